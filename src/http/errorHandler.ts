/**
 * The API's answer to every failure: `{"detail": ...}` with the status `asHttpError`
 * (`web/errorMapping.ts`) gives it, and anything it does not know into a logged 500 whose answer
 * says nothing about the inside.
 */
import type { Middleware } from 'koa';
import { Overloaded } from '../errors.ts';
import type { Logger } from '../log.ts';
import { asHttpError, clientErrorDetail, isMalformedInput } from '../web/errorMapping.ts';

/** Runs inside `requestLog`, so faults are logged with the request's id. */
export function errorHandler(): Middleware<{ log: Logger }> {
  return async (ctx, next) => {
    try {
      await next();
      const { status } = ctx;
      if (ctx.body === undefined && (status === 404 || status === 405)) {
        ctx.body = { detail: clientErrorDetail[status] };
        // Setting a body makes Koa assume 200.
        ctx.status = status;
      }
    } catch (err) {
      const known = asHttpError(err);
      if (known?.status === 503) {
        ctx.state.log.warn(
          { err: (err as Error).message },
          err instanceof Overloaded ? 'password checks at capacity' : 'database unavailable',
        );
      }
      // Input no handler could read (an undecodable body, a lone surrogate): one line, no stack.
      if (known && isMalformedInput(known))
        ctx.state.log.warn({ status: known.status, err: known.message }, 'malformed input');
      if (known) {
        ctx.status = known.status;
        ctx.set(known.headers);
        ctx.body = { detail: known.detail };
        return;
      }
      ctx.state.log.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { detail: 'Internal Server Error' };
    }
  };
}
