/**
 * Bodies the API reads: JSON and form-urlencoded, as koa-bodyparser parses them. Anything else
 * sent with a body is a 415 at once, rather than an empty body and a 422 "Field required" that
 * sends the client looking for a missing field.
 */
import type { Middleware } from 'koa';
import { HttpError } from './httpError.ts';

/** koa-bodyparser's default JSON types, and its form type: what `readBody` enables. */
export const BODY_TYPES = [
  'application/json',
  'application/json-patch+json',
  'application/vnd.api+json',
  'application/csp-report',
  'application/scim+json',
  'application/x-www-form-urlencoded',
];

export const unsupportedMediaType = () => new HttpError(415, 'Unsupported media type');

export function requireBodyType(): Middleware {
  return (ctx, next) => {
    const declared = ctx.get('Content-Type') !== '';
    // No Content-Type and nothing sent (a POST with `Content-Length: 0`) is simply no body.
    const sent = ctx.request.length > 0 || ctx.get('Transfer-Encoding') !== '';
    if ((declared || sent) && ctx.request.is(BODY_TYPES) === false) throw unsupportedMediaType();
    return next();
  };
}
