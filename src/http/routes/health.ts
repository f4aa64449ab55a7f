/**
 * `GET /health`: the process is up (container health checks). `GET /ready`: the database
 * answers too (load balancers: take the instance out while it does not). `GET /metrics`:
 * Prometheus text, on the metrics port only (`metricsRouter`).
 */
import Router from '@koa/router';
import type { Registry } from 'prom-client';
import type { Db } from '../../db/database.ts';

/** /ready answers 503 rather than wait longer than this for the database (a stalled server). */
const READY_TIMEOUT_MS = 2000;

export function healthRouter({ db }: { db: Db }): Router {
  const router = new Router({ sensitive: true });
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    try {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error('no answer in time')), READY_TIMEOUT_MS)),
      );
      await Promise.race([db.raw('SELECT 1'), late]).finally(() => clearTimeout(timer));
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
 * an address has an account (docs/security.md).
 */
export function metricsRouter({ metrics }: { metrics: { registry: Registry } }): Router {
  const router = new Router({ sensitive: true });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
