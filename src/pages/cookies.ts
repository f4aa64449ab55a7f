/**
 * The pages' two cookies (written by hand, `web/cookies.ts`):
 *
 * - `dundie_reset`: the reset token, moved out of the address bar. `HttpOnly` (no script reads
 *   it), `SameSite=Strict` (no other site's form or link sends it), `Path=/reset_password` (no
 *   other route sees it), `Secure` when PUBLIC_URL is https, and no older than the token itself.
 * - `dundie_lang`: the language picked with the switch; not a secret.
 */
import type { Context } from 'koa';
import type { Settings } from '../config.ts';
import { isHttps, readCookie, serializeCookie } from '../web/cookies.ts';
import { isLocale, type Locale } from './i18n.ts';

export const RESET_COOKIE = 'dundie_reset';
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

export function clearResetCookie(ctx: Context, config: Settings): void {
  ctx.append(
    'Set-Cookie',
    serializeCookie(RESET_COOKIE, '', {
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
