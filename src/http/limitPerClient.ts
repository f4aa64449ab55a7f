/**
 * Per-client limits on the routes an attacker would hammer. Over the limit: 429 with
 * `Retry-After`, and a detail that is the same whatever was sent, so it reveals nothing.
 */
import type { Middleware } from 'koa';
import type { Db } from '../db/database.ts';
import { tooManyRequests } from './httpError.ts';
import { hit } from '../auth/rateLimits.ts';

/** `perMinute` requests per client address per minute on this route; 0 turns it off. */
export function limitPerClient(db: Db, name: string, perMinute: number): Middleware {
  if (perMinute <= 0) return (_ctx, next) => next();
  return async (ctx, next) => {
    // ctx.ip honours X-Forwarded-For only when app.proxy is on (security.TRUST_PROXY).
    const { hits, resetInSeconds } = await hit(db, `${name}:${ctx.ip}`, 60);
    if (hits > perMinute) throw tooManyRequests(resetInSeconds);
    await next();
  };
}
