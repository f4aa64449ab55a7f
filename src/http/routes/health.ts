/** `GET /health`: the process is up and serving (for container health checks). */
import Router from '@koa/router';

export function healthRouter(): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  return router;
}
