/**
 * The floor of the stack Dundie is built on: Koa, koa-bodyparser and @koa/router answering
 * POST /user/pwd_reset_token/ with the same JSON, with none of Dundie's middleware and nothing
 * stored. What no Koa service can beat on this machine; bare `node:http` (bareHttp.ts) is the
 * limit without Koa. Prints its port, then serves.
 */
import Router from '@koa/router';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import process from 'node:process';

const message = 'If we found a user with that email, we sent a password reset token to it.';

const app = new Koa();
app.use(bodyParser({ enableTypes: ['json', 'form'] }));
const router = new Router({ prefix: '/user' });
router.post('/pwd_reset_token', (ctx) => {
  const { email } = (ctx.request.body ?? {}) as { email?: unknown };
  if (typeof email !== 'string') {
    ctx.status = 422;
    ctx.body = { detail: 'bad request' };
    return;
  }
  ctx.body = { message };
});
app.use(router.routes());
app.use(router.allowedMethods());
const server = app.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port })),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
