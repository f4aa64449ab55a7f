/**
 * The languages Dundie speaks to people: English and Brazilian Portuguese, and how a request's
 * `Accept-Language` picks one. The pages and the e-mails use them; API answers stay English.
 */

export const LOCALES = ['en', 'pt-BR'] as const;
export type Locale = (typeof LOCALES)[number];

export const isLocale = (value: unknown): value is Locale => LOCALES.includes(value as Locale);

/** `pt`, `pt-PT`, `pt-br` → `pt-BR`; `en-GB` → `en`; anything else → undefined. */
export function matchLocale(tag: string): Locale | undefined {
  const lower = tag.trim().toLowerCase();
  if (lower === 'pt' || lower.startsWith('pt-')) return 'pt-BR';
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  return undefined;
}

/** The best language an `Accept-Language` header asks for, by quality; undefined when none fits. */
export function negotiateLocale(header: string | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranges = header.split(',').map((part, index) => {
    const [tag = '', ...params] = part.split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    return { tag, q: q === undefined ? 1 : Number(q), index };
  });
  ranges.sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag, q } of ranges) {
    const locale = q > 0 ? matchLocale(tag) : undefined;
    if (locale) return locale;
  }
  return undefined;
}
