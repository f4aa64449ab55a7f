/**
 * The body parser (koa-bodyparser), with a smaller limit where a route needs little: a reset
 * request is one address, so a larger body there is refused with 413 by its Content-Length before
 * any of it is buffered, rather than read up to the general `api.BODY_LIMIT_KB` and then refused
 * by validation. The reset request is the one endpoint anyone may call without an account, so
 * junk aimed at it should cost the server as little as possible.
 */
import type { Middleware } from 'koa';
import bodyParser from 'koa-bodyparser';
import { bodyParseError } from './errorHandler.ts';

/** Enough for any reset request: an address of 254 characters, each escaped as `\uXXXX`, and a language. */
export const SMALL_BODY_KB = 4;

const parser = (limitKb: number) =>
  bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: `${limitKb}kb`,
    formLimit: `${limitKb}kb`,
    strict: true,
    onerror: (err) => {
      throw bodyParseError(err);
    },
  });

/** Parses JSON and form bodies: up to `SMALL_BODY_KB` on `smallPaths`, up to `limitKb` elsewhere. */
export function parseBodies(limitKb: number, smallPaths: readonly string[]): Middleware {
  const small = parser(Math.min(SMALL_BODY_KB, limitKb));
  const general = parser(limitKb);
  const isSmall = new Set(smallPaths.flatMap((p) => [p, `${p}/`]));
  return (ctx, next) => (isSmall.has(ctx.path) ? small : general)(ctx, next);
}
