/**
 * Per-client limits on the routes an attacker would hammer. Over the limit: 429 with
 * `Retry-After`, and a detail that is the same whatever was sent, so it reveals nothing.
 */
import type { Middleware } from 'koa';
import type { Db } from '../db/database.ts';
import { tooManyRequests } from './httpError.ts';
import { createRequestLimit } from '../auth/requestLimits.ts';
import type { ClientState } from './client.ts';
import type { DeadlineState } from './deadline.ts';

/** `perMinute` requests per client address per minute on this route; 0 turns it off. */
export function limitPerClient(db: Db, name: string, perMinute: number): Middleware<DeadlineState & ClientState> {
  const limit = createRequestLimit(db, name, perMinute, 60);
  if (!limit) return (_ctx, next) => next();
  return async (ctx, next) => {
    const { allowed, retryAfterSeconds } = await limit.take(ctx.state.client, {
      deadline: ctx.state.deadline.getTime(),
    });
    if (!allowed) throw tooManyRequests(retryAfterSeconds);
    await next();
  };
}
