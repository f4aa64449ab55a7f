/**
 * Cookies written by hand rather than with `ctx.cookies`: Koa refuses a `Secure` cookie on a
 * plain-http request, and behind a TLS-terminating proxy (TRUST_PROXY off) every request looks
 * like plain http, though PUBLIC_URL says https. Shared by the API and the pages.
 */
import type { Context } from 'koa';
import type { Settings } from '../config.ts';

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  httpOnly: boolean;
  sameSite: 'Strict' | 'Lax';
  secure: boolean;
}

export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${o.path}`,
    `Max-Age=${o.maxAgeSeconds}`,
    `SameSite=${o.sameSite}`,
  ];
  if (o.maxAgeSeconds === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (o.httpOnly) parts.push('HttpOnly');
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

/** `Secure` cookies whenever people reach the service over https. */
export const isHttps = (config: Settings) => config.server.PUBLIC_URL.startsWith('https:');

export function readCookie(ctx: Pick<Context, 'get'>, name: string): string | undefined {
  for (const pair of (ctx.get('Cookie') || '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(pair.slice(eq + 1).trim()) || undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
