/** A small "browser" for the pages over fetch: form posts, cookies kept by hand, no redirects followed. */
export interface PageAnswer {
  status: number;
  html: string;
  headers: Headers;
  location: string | null;
  cookies: string[];
}

export interface PageClient {
  /** Cookies as the browser would send them back, by name. */
  jar: Map<string, string>;
  get(path: string, headers?: Record<string, string>): Promise<PageAnswer>;
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<PageAnswer>;
}

export function pageClient(base: string, defaults: Record<string, string> = {}): PageClient {
  const jar = new Map<string, string>();
  const send = async (
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<PageAnswer> => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(base + path, {
      method,
      redirect: 'manual',
      headers: { ...defaults, ...(cookie ? { cookie } : {}), ...headers },
      body,
    });
    const cookies = res.headers.getSetCookie();
    for (const c of cookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/Max-Age=0/.test(c) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return {
      status: res.status,
      html: await res.text(),
      headers: res.headers,
      location: res.headers.get('location'),
      cookies,
    };
  };
  return {
    jar,
    get: (path, headers = {}) => send('GET', path, headers),
    post: (path, form, headers = {}) =>
      send(
        'POST',
        path,
        { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
        new URLSearchParams(form).toString(),
      ),
  };
}

/** The text of an HTML fragment, tags dropped and entities that matter decoded. */
export const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
