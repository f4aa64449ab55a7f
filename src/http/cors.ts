/**
 * CORS for front-ends on another origin (`server.CORS_ORIGINS`): exact origins only, never a
 * wildcard, and no credentials (the API takes bearer tokens, not cookies). A listed origin gets
 * `Access-Control-Allow-Origin` on preflights and on every API answer, errors included; any other
 * origin gets none, and its preflight a 403. `Vary: Origin` keeps caches from mixing them up.
 * Paths that are no API (`sameOriginOnly`: the pages, as the app's composer says) get none of it.
 */
import type { Middleware } from 'koa';
import type { Settings } from '../config.ts';

const METHODS = 'GET, POST, PATCH, OPTIONS';
const ALLOWED_HEADERS = ['authorization', 'content-type', 'x-request-id'];
const EXPOSED_HEADERS = 'Retry-After, WWW-Authenticate, X-Request-Id';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

export function cors(config: Pick<Settings, 'server'>, sameOriginOnly: (path: string) => boolean): Middleware {
  const allowed = new Set(config.server.CORS_ORIGIN_LIST);
  return (ctx, next) => {
    if (sameOriginOnly(ctx.path)) return next();
    // `vary` parses the header it appends to, ~500 bytes a request; mostly there is none yet.
    if (ctx.res.hasHeader('Vary')) ctx.vary('Origin');
    else ctx.set('Vary', 'Origin');
    const origin = ctx.get('Origin');
    const preflight = ctx.method === 'OPTIONS' && origin !== '' && ctx.get('Access-Control-Request-Method') !== '';
    if (!origin || !allowed.has(origin)) {
      if (preflight) {
        ctx.status = 403;
        ctx.body = { detail: 'Origin not allowed' };
        return;
      }
      return next();
    }
    ctx.set('Access-Control-Allow-Origin', origin);
    if (preflight) {
      const asked = ctx
        .get('Access-Control-Request-Headers')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean);
      ctx.vary('Access-Control-Request-Method');
      ctx.vary('Access-Control-Request-Headers');
      ctx.set({
        'Access-Control-Allow-Methods': METHODS,
        'Access-Control-Allow-Headers':
          asked.filter((h) => ALLOWED_HEADERS.includes(h)).join(', ') || ALLOWED_HEADERS.join(', '),
        'Access-Control-Max-Age': PREFLIGHT_MAX_AGE_SECONDS,
      });
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    return next();
  };
}
