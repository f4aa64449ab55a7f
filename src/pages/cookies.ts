/**
 * The pages' two cookies, written by hand rather than with `ctx.cookies`: Koa refuses a `Secure`
 * cookie on a plain-http request, and behind a TLS-terminating proxy (TRUST_PROXY off) every
 * request looks like plain http, though PUBLIC_URL says https.
 *
 * - `dundie_reset`: the reset token, moved out of the address bar. `HttpOnly` (no script reads
 *   it), `SameSite=Strict` (no other site's form or link sends it), `Path=/reset_password` (no
 *   other route sees it), `Secure` when PUBLIC_URL is https, and no older than the token itself.
 * - `dundie_lang`: the language picked with the switch; not a secret.
 */
import type { Context } from 'koa';
import type { Settings } from '../config.ts';
import { isLocale, type Locale } from './i18n.ts';

export const RESET_COOKIE = 'dundie_reset';
export const LANG_COOKIE = 'dundie_lang';
export const PAGES_PATH = '/reset_password';

interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  httpOnly: boolean;
  sameSite: 'Strict' | 'Lax';
  secure: boolean;
}

function serialize(name: string, value: string, o: CookieOptions): string {
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

const isHttps = (config: Settings) => config.server.PUBLIC_URL.startsWith('https:');

export function readCookie(ctx: Context, name: string): string | undefined {
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

export function setResetCookie(ctx: Context, config: Settings, token: string): void {
  ctx.append(
    'Set-Cookie',
    serialize(RESET_COOKIE, token, {
      path: PAGES_PATH,
      maxAgeSeconds: config.security.RESET_TOKEN_EXPIRE_MINUTES * 60,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(config),
    }),
  );
}

export function clearResetCookie(ctx: Context, config: Settings): void {
  ctx.append(
    'Set-Cookie',
    serialize(RESET_COOKIE, '', {
      path: PAGES_PATH,
      maxAgeSeconds: 0,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(config),
    }),
  );
}

export function setLangCookie(ctx: Context, config: Settings, locale: Locale): void {
  ctx.append(
    'Set-Cookie',
    serialize(LANG_COOKIE, locale, {
      path: '/',
      maxAgeSeconds: 365 * 24 * 3600,
      httpOnly: true,
      sameSite: 'Lax',
      secure: isHttps(config),
    }),
  );
}

export function readLangCookie(ctx: Context): Locale | undefined {
  const value = readCookie(ctx, LANG_COOKIE);
  return isLocale(value) ? value : undefined;
}
