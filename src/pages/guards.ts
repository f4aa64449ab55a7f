/**
 * What every page answer carries, and the check every page form post passes.
 */
import type { Context, Middleware } from 'koa';
import type { Settings } from '../config.ts';

/** Only our own stylesheet and script; no frames, no foreign forms, no <base> games. */
export const PAGE_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "script-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * Security headers on every page answer, errors included. `no-referrer`: the first answer's own
 * address holds the reset token; `no-store`: no cache keeps a page with a username on it.
 */
export function pageHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set({
      'Content-Security-Policy': PAGE_CSP,
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    await next();
  };
}

/**
 * True when a form post comes from one of our own pages. `Sec-Fetch-Site` first: browsers set it
 * and no page can forge it, and it survives `Referrer-Policy: no-referrer`, under which Chromium
 * sends `Origin: null` even for a same-origin form. Without it, `Origin` must be ours (PUBLIC_URL
 * or the request's own origin). A client that sends neither is no browser a forged form could
 * drive (curl, a test), so it passes; the reset cookie is `SameSite=Strict` besides.
 */
export function fromOurOwnPage(ctx: Context, config: Settings): boolean {
  const site = ctx.get('Sec-Fetch-Site');
  if (site) return site === 'same-origin';
  const origin = ctx.get('Origin');
  if (!origin) return true;
  // Not `ctx.origin`: since Koa 3 that is the Origin header itself.
  return origin === new URL(config.server.PUBLIC_URL).origin || origin === `${ctx.protocol}://${ctx.host}`;
}
