/**
 * One log line per request, with an id that is also sent back as `X-Request-Id` (or taken from
 * the caller's, when it looks like one), so a client's report can be matched to our logs.
 * The URL is logged redacted: a reset link's token never reaches the logs.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { redactUrl, type Logger } from '../log.ts';

const USABLE_ID = /^[\w.:-]{1,128}$/;

export function requestLog(log: Logger): Middleware<{ log: Logger; requestId: string }> {
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('X-Request-Id');
    const requestId = USABLE_ID.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', requestId);
    ctx.state.requestId = requestId;
    // A child logger costs an allocation and a serialised binding: made only for a request that
    // logs more than its one line (an error, say). The line below has the same fields either way.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= log.child({ requestId })),
      configurable: true,
      enumerable: true,
    });
    try {
      await next();
    } finally {
      (child ?? log).info(
        child
          ? {
              method: ctx.method,
              url: redactUrl(ctx.originalUrl),
              status: ctx.status,
              ms: Math.round(performance.now() - started),
            }
          : {
              requestId,
              method: ctx.method,
              url: redactUrl(ctx.originalUrl),
              status: ctx.status,
              ms: Math.round(performance.now() - started),
            },
        'request',
      );
    }
  };
}
