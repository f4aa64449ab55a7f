/**
 * The pages' two cookies (written by hand, `web/cookies.ts`):
 *
 * - `dundie_reset`: the reset token, moved out of the address bar. `HttpOnly` (no script reads
 *   it), `SameSite=Strict` (no other site's form or link sends it), `Path=/reset_password` (no
 *   other route sees it), `Secure` when PUBLIC_URL is https, and no older than the token itself.
 * - `dundie_reset_address`: the address just asked for, so the "Check your e-mail" page can fill
 *   in its code form without putting the address in a URL. As private as the reset cookie, and
 *   no older than the code.
 * - `dundie_lang`: the language picked with the switch; not a secret.
 */
import type { Context } from 'koa';
import type { Settings } from '../config.ts';
import { isHttps, readCookie, serializeCookie } from '../web/cookies.ts';
import { isLocale, type Locale } from './i18n.ts';

export const RESET_COOKIE = 'dundie_reset';
export const ADDRESS_COOKIE = 'dundie_reset_address';
export const LANG_COOKIE = 'dundie_lang';
export const PAGES_PATH = '/reset_password';

export function setResetCookie(ctx: Context, config: Settings, token: string): void {
  ctx.append(
    'Set-Cookie',
    serializeCookie(RESET_COOKIE, token, {
      path: PAGES_PATH,
      maxAgeSeconds: config.security.RESET_TOKEN_EXPIRE_MINUTES * 60,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(config),
    }),
  );
}

export const clearResetCookie = (ctx: Context, config: Settings) => clearPageCookie(ctx, config, RESET_COOKIE);

/** The address typed for a code: gone once it served, so the next person at a shared computer does not see it. */
export const clearAddressCookie = (ctx: Context, config: Settings) => clearPageCookie(ctx, config, ADDRESS_COOKIE);

function clearPageCookie(ctx: Context, config: Settings, name: string): void {
  ctx.append(
    'Set-Cookie',
    serializeCookie(name, '', {
      path: PAGES_PATH,
      maxAgeSeconds: 0,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(config),
    }),
  );
}

export function setAddressCookie(ctx: Context, config: Settings, address: string): void {
  ctx.append(
    'Set-Cookie',
    serializeCookie(ADDRESS_COOKIE, address, {
      path: PAGES_PATH,
      maxAgeSeconds: config.security.RESET_TOKEN_EXPIRE_MINUTES * 60,
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(config),
    }),
  );
}

export function setLangCookie(ctx: Context, config: Settings, locale: Locale): void {
  ctx.append(
    'Set-Cookie',
    serializeCookie(LANG_COOKIE, locale, {
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
