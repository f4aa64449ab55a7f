/**
 * What status and sentence each failure deserves, in one place for the API and the pages: our
 * HttpErrors as they are, the domain's errors with their status, the database being away as 503,
 * the body parser's and Koa's own client errors with a readable sentence; anything else is a fault
 * (undefined: the caller logs it and answers 500). The API answers `{"detail": ...}`
 * (`http/errorHandler.ts`), the pages a page (`pages/router.ts`).
 */
import { isTransientDbError } from '../db/errors.ts';
import { DeadlineExceeded, QueueFull } from '../db/groupCommit.ts';
import { Conflict, NotAllowed, NotFound, Overloaded, PolicyViolation, TooManyAttempts } from '../errors.ts';
import { MaybeRecorded } from '../outbox/enqueueBatcher.ts';
import { HttpError, serviceUnavailable, tooManyRequests, validationFailed } from './httpError.ts';

/** Koa's and the body parser's client errors, in a sentence. */
export const clientErrorDetail: Record<number, string> = {
  400: 'Malformed request body',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request body is too large',
  415: 'Unsupported media type',
};

/** zlib's failures: a body that is not what its `Content-Encoding` says (gzip or br on plain bytes). */
const isDecompressionError = (code: unknown) =>
  typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__ERROR') || code.startsWith('ERR_BROTLI'));

const NOT_RECORDED = 'Service temporarily unavailable: your request was not recorded, try again shortly';
const MAYBE_RECORDED =
  'Service temporarily unavailable: your request may have been recorded; asking again is safe, try again shortly';

/** The body parser's failures (bad JSON, too large, bad encoding) as client errors. */
export function bodyParseError(err: unknown): HttpError {
  const { status, type, code } = err as { status?: number; type?: string; code?: unknown };
  if (err instanceof SyntaxError || type === 'entity.parse.failed')
    return new HttpError(400, 'Malformed JSON in request body');
  if (isDecompressionError(code)) return new HttpError(400, 'Request body does not match its Content-Encoding');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, clientErrorDetail[status] ?? 'Bad request');
  }
  throw err;
}

const UNREADABLE_BODY = new Set([
  'Malformed JSON in request body',
  'Request body does not match its Content-Encoding',
  clientErrorDetail[400],
]);
/** Input no handler could read (an undecodable body, a lone surrogate): logged as one line, no stack. */
export const isMalformedInput = ({ status, detail }: HttpError) =>
  status === 413 ||
  status === 415 ||
  (status === 400 && typeof detail === 'string' && UNREADABLE_BODY.has(detail)) ||
  (Array.isArray(detail) && detail.some((i) => i.type === 'string_unicode'));

/** The answer an error deserves, or undefined for a fault (a 500); the pages render the same statuses. */
export function asHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof NotFound) return new HttpError(404, err.message);
  if (err instanceof NotAllowed) return new HttpError(403, err.message);
  if (err instanceof Conflict) return new HttpError(409, err.message);
  if (err instanceof TooManyAttempts) return tooManyRequests(err.retryAfterSeconds);
  if (err instanceof Overloaded)
    return new HttpError(503, err.message, { 'Retry-After': String(err.retryAfterSeconds) });
  if (err instanceof PolicyViolation)
    return validationFailed([{ loc: ['body', err.field], msg: err.message, type: 'value_error' }]);
  // The database is out of reach: a client should retry soon, and nothing of theirs was half-done.
  // Not written before the request's deadline, or refused unqueued: guaranteed not recorded.
  if (err instanceof DeadlineExceeded || err instanceof QueueFull) return serviceUnavailable(NOT_RECORDED);
  // Its INSERT was sent but had not answered by the deadline: it may commit (docs/reliability.md).
  if (err instanceof MaybeRecorded) return serviceUnavailable(MAYBE_RECORDED);
  if (isTransientDbError(err)) return serviceUnavailable();
  // Koa's own client errors (ctx.throw, http-errors) are marked `expose`.
  const { status, expose } = err as { status?: number; expose?: boolean };
  if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
    return new HttpError(status, clientErrorDetail[status] ?? 'Bad request');
  }
  return undefined;
}
