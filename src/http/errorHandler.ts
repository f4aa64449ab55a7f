/**
 * Turns every failure into `{"detail": ...}`: our HttpErrors as they are, the body parser's
 * and Koa's own client errors with a readable sentence, anything else into a logged 500 whose
 * answer says nothing about the inside.
 */
import type { Middleware } from 'koa';
import { HttpError, serviceUnavailable } from '../errors.ts';
import type { Logger } from '../log.ts';

const clientErrorDetail: Record<number, string> = {
  400: 'Malformed request body',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request body is too large',
  415: 'Unsupported media type',
};

/** The body parser's failures (bad JSON, too large, bad encoding) as client errors. */
export function bodyParseError(err: unknown): HttpError {
  const { status, type } = err as { status?: number; type?: string };
  if (err instanceof SyntaxError || type === 'entity.parse.failed') return new HttpError(400, 'Malformed JSON in request body');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, clientErrorDetail[status] ?? 'Bad request');
  }
  throw err;
}

// Connection refused or reset, pool wait timed out, server shutting down or starting up.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** The database is out of reach: a client should retry soon, and nothing of theirs was half-done. */
function isDatabaseUnavailable(err: unknown): boolean {
  const { name, code, message } = err as { name?: string; code?: string; message?: string };
  return (
    name === 'KnexTimeoutError' ||
    (code !== undefined && UNAVAILABLE_CODES.has(code)) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message ?? '')
  );
}

function asHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (isDatabaseUnavailable(err)) return serviceUnavailable();
  // Koa's own client errors (ctx.throw, http-errors) are marked `expose`.
  const { status, expose } = err as { status?: number; expose?: boolean };
  if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
    return new HttpError(status, clientErrorDetail[status] ?? 'Bad request');
  }
  return undefined;
}

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
      if (known?.status === 503) ctx.state.log.warn({ err: (err as Error).message }, 'database unavailable');
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
