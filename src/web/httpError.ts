/**
 * Errors that only HTTP has: each carries its status and a sentence a client can show; the
 * error middleware turns it into `{"detail": ...}`. Domain errors (`../errors.ts`) are mapped
 * there too; anything else is a fault: logged, and answered with a generic 500.
 */

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class HttpError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : detail.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'HttpError';
  }
}

export const badRequest = (detail: string) => new HttpError(400, detail);
export const unauthorized = (detail = 'Could not validate credentials') =>
  new HttpError(401, detail, { 'WWW-Authenticate': 'Bearer' });
export const forbidden = (detail: string) => new HttpError(403, detail);
export const notFound = (detail = 'Not Found') => new HttpError(404, detail);
export const validationFailed = (issues: ValidationIssue[]) => new HttpError(422, issues);
export const serviceUnavailable = (detail = 'Service temporarily unavailable, try again shortly') =>
  new HttpError(503, detail, { 'Retry-After': '5' });
export const tooManyRequests = (retryAfterSeconds: number) =>
  new HttpError(429, 'Too many requests, try again later', { 'Retry-After': String(retryAfterSeconds) });
