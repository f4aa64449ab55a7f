/**
 * The moment by which a request must be answered: DATABASE.TIMEOUT_SECONDS after it arrived. Work
 * that can wait on the database (the enqueue batcher) takes it from `ctx.state.deadline` and gives
 * up with a 503 when it passes, instead of queueing behind a stalled server.
 */
import type { Middleware } from 'koa';

export interface DeadlineState {
  deadline: Date;
}

export function requestDeadline(timeoutSeconds: number): Middleware<DeadlineState> {
  return (ctx, next) => {
    ctx.state.deadline = new Date(Date.now() + timeoutSeconds * 1000);
    return next();
  };
}
