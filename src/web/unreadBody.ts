/**
 * A body the answer did not need (refused by its Content-Length, or sent to a route that refused
 * the caller first) is not read to keep the connection alive: the answer closes the connection,
 * as nginx does after a 413, so a refused upload costs its headers and not its bytes.
 */
import type { Middleware } from 'koa';

export function closeAfterUnreadBody(): Middleware {
  return (ctx, next) =>
    next().then(() => {
      // `complete` is false while body bytes are still to come; Deno's node:http may not say.
      if (ctx.req.complete === false) ctx.set('Connection', 'close');
    });
}
