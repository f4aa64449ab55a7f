/**
 * A per-client limit in front of a route an attacker would hammer (the limits are built once, in
 * `auth/limits.ts`). Over the limit: 429 with `Retry-After`, by default as an error whose detail
 * is the same whatever was sent, so it reveals nothing; a page answers with its own form instead.
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { BatchedLimit } from '../auth/limits.ts';
import type { ClientState } from './client.ts';
import type { DeadlineState } from './deadline.ts';
import { tooManyRequests } from './httpError.ts';

/** Answers a refused request; `Retry-After` and the 429 are already set. */
export type Refused<S> = (ctx: ParameterizedContext<S>, retryAfterSeconds: number) => Promise<void> | void;

/** Counts the request on its client's budget in `limit` (undefined: off) before the rest of the route. */
export function limitPerClient<S extends DeadlineState & ClientState>(
  limit: BatchedLimit | undefined,
  refused?: Refused<S>,
): Middleware<S> {
  if (!limit) return (_ctx, next) => next();
  return async (ctx, next) => {
    const { allowed, retryAfterSeconds } = await limit.take(ctx.state.client, {
      deadline: ctx.state.deadline.getTime(),
    });
    if (allowed) return next();
    if (!refused) throw tooManyRequests(retryAfterSeconds);
    ctx.status = 429;
    ctx.set('Retry-After', String(retryAfterSeconds));
    await refused(ctx, retryAfterSeconds);
  };
}
