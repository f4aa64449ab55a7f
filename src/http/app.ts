/**
 * The HTTP application: error handling, body parsing, the routers. It never listens; `main.ts`
 * and the tests do that, so a test can run the real app on a port of its own.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { requireBodyType } from './bodyType.ts';
import { identifyClient } from './client.ts';
import { cors } from './cors.ts';
import { requestDeadline } from './deadline.ts';
import { errorHandler } from './errorHandler.ts';
import { requestLog } from './requestLog.ts';
import { docsRouter } from './routes/docs.ts';
import { healthRouter, metricsRouter } from './routes/health.ts';
import { tokensRouter } from './routes/tokens.ts';
import { usersRouter } from './routes/users.ts';
import type { Logger } from '../log.ts';
import { EnqueueBatcher } from '../outbox/enqueueBatcher.ts';
import type { Metrics } from '../metrics.ts';
import { pagesBoundary, pagesRouter } from '../pages/router.ts';

export interface AppDeps {
  db: Db;
  config: Settings;
  log: Logger;
  metrics: Metrics;
}

/** Every router the app serves; the OpenAPI test reads their routes. */
export function appRouters(deps: Pick<AppDeps, 'db' | 'config' | 'metrics'> & { outbox: EnqueueBatcher }) {
  return [healthRouter(deps), docsRouter(), tokensRouter(deps), usersRouter(deps)];
}

export function createApp({ db, config, log, metrics }: AppDeps): Koa {
  const app = new Koa();
  // Trust X-Forwarded-For (ctx.ip) only when told: otherwise any client could pick its own address.
  app.proxy = config.security.TRUST_PROXY;
  // Koa takes the leftmost X-Forwarded-For entry, which the client wrote; keep only the entries
  // our own proxies appended, so the leftmost left is the address the nearest proxy saw.
  app.maxIpsCount = config.security.PROXY_HOPS;
  // Koa would print errors itself; errorHandler already logs the ones that matter.
  app.silent = true;

  app.use(requestLog(log));
  app.use(requestDeadline(config.database.TIMEOUT_SECONDS));
  app.use(identifyClient(config.security.IPV6_PREFIX_BITS));
  app.use(cors(config));
  app.use(errorHandler());
  // Under /reset_password a person sees pages, errors included; the API's JSON errors elsewhere.
  app.use(pagesBoundary(config));
  app.use(requireBodyType());
  // One batcher for the API and the pages: reset requests from both share their INSERTs.
  const outbox = new EnqueueBatcher(db);
  // Mounted into one router, so a request is matched in one pass over every route.
  const routes = new Router({ sensitive: true });
  for (const router of appRouters({ db, config, metrics, outbox })) routes.use(router.routes());
  // The pages a person sees (src/pages/); not in appRouters: they are no part of the OpenAPI document.
  routes.use(pagesRouter({ db, config, outbox }).routes());
  app.use(routes.routes());
  app.use(routes.allowedMethods());
  return app;
}

/** /health, /ready and /metrics: what every role serves on the metrics port (`metrics.PORT`). */
export function createOpsApp({ db, log, metrics }: Omit<AppDeps, 'config'>): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(requestLog(log));
  app.use(errorHandler());
  for (const router of [healthRouter({ db }), metricsRouter({ metrics })]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
