/**
 * Reading a request's body (koa-bodyparser: JSON and form-urlencoded), as a step of the routes
 * that take one, with the limit that route needs. Not for the whole app: a body is read only
 * once the route is known and the caller has passed its checks (a bearer token, a reset token, a
 * superuser, the per-client limit), so an anonymous client can make the server buffer at most
 * `ANONYMOUS_BODY_KB` (`RESET_REQUEST_BODY_KB` at the reset request), and a larger body is refused
 * with 413 by its Content-Length before any of it is read. Routes that take no body never read one.
 */
import type { Middleware } from 'koa';
import bodyParser from 'koa-bodyparser';
import { bodyParseError } from './errorMapping.ts';

/** A reset request is one address: 254 characters, each of them escaped as `\uXXXX`, and a language. */
export const RESET_REQUEST_BODY_KB = 4;
/** Logins, refreshes and the pages' forms: passwords of 1,024 characters, percent-encoded, fit twice. */
export const ANONYMOUS_BODY_KB = 32;

/** The body in `ctx.request.body`, up to `limitKb`; 413 beyond, 400 when it does not parse. */
export function readBody(limitKb: number): Middleware {
  const parse = bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: `${limitKb}kb`,
    formLimit: `${limitKb}kb`,
    strict: true,
    onerror: (err) => {
      throw bodyParseError(err);
    },
  });
  // koa-bodyparser checks Content-Length only when there is no Content-Encoding, and counts the
  // decoded bytes: a compressed body is refused here when its declared size alone is too large.
  // A compressed body sent in chunks, with no Content-Length, that decodes to next to nothing
  // can still be read until REQUEST_TIMEOUT_SECONDS; what any body decodes to is held to the limit.
  return (ctx, next) => {
    if ((ctx.request.length ?? 0) > limitKb * 1024) throw bodyParseError({ status: 413 });
    return parse(ctx, next);
  };
}
