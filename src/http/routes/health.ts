/**
 * `GET /health`: the process is up (container health checks). `GET /ready`: the database
 * answers too (load balancers: take the instance out while it does not). `GET /metrics`:
 * Prometheus text, on the metrics port only (`metricsRouter`).
 */
import Router from '@koa/router';
import type { Db } from '../../db/database.ts';
import type { Metrics } from '../../metrics.ts';

export function healthRouter({ db }: { db: Db }): Router {
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    try {
      await db.raw('SELECT 1');
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { detail: 'The database does not answer' };
    }
  });
  return router;
}

/**
 * `GET /metrics`, for the metrics port alone: the send and skip counters and the outbox rows by
 * status move by one after a reset request, so on the public port they would tell anyone whether
 * an address has an account (issue 13).
 */
export function metricsRouter({ metrics }: { metrics: Metrics }): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
