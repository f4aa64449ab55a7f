/**
 * The HTTP application, composed in one place (as Koa's `lib/application.js`): the middleware
 * every request goes through (`web/`), the API's routers (`http/`) and the pages (`pages/`), which
 * know nothing of each other. It never listens; `service.ts` and the tests do that, so a test can
 * run the real app on a port of its own.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { createLimits } from './auth/limits.ts';
import type { Settings } from './config.ts';
import type { Db } from './db/database.ts';
import { cors } from './http/cors.ts';
import { errorHandler } from './http/errorHandler.ts';
import { docsRouter } from './http/routes/docs.ts';
import { healthRouter, metricsRouter } from './http/routes/health.ts';
import { resetRequestsRouter } from './http/routes/resetRequests.ts';
import { tokensRouter } from './http/routes/tokens.ts';
import { usersRouter } from './http/routes/users.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { EnqueueBatcher } from './outbox/enqueueBatcher.ts';
import { LimitedEnqueue } from './commands/limitedEnqueue.ts';
import { isPagePath, pagesBoundary, pagesRouter } from './pages/router.ts';
import { requireBodyType } from './web/bodyType.ts';
import { identifyClient } from './web/client.ts';
import { requestDeadline } from './web/deadline.ts';
import { setHeadersDirectly } from './web/headerSet.ts';
import { requestLog } from './web/requestLog.ts';
import type { RouterDeps } from './web/routerDeps.ts';
import { closeAfterUnreadBody } from './web/unreadBody.ts';

export interface AppDeps {
  db: Db;
  config: Settings;
  log: Logger;
}

/**
 * Every router the app serves, the reset requests' first (the `/user/:username` routes come
 * after their literal paths); the OpenAPI test reads their routes.
 */
export function appRouters(deps: RouterDeps) {
  return [resetRequestsRouter(deps), healthRouter(deps), docsRouter(), tokensRouter(deps), usersRouter(deps)];
}

export function createApp({ db, config, log }: AppDeps): Koa {
  const app = new Koa();
  // Trust X-Forwarded-For (ctx.ip) only when told: otherwise any client could pick its own address.
  app.proxy = config.security.TRUST_PROXY;
  // Koa takes the leftmost X-Forwarded-For entry, which the client wrote; keep only the entries
  // our own proxies appended, so the leftmost left is the address the nearest proxy saw.
  app.maxIpsCount = config.security.PROXY_HOPS;
  // Koa would print errors itself; errorHandler already logs the ones that matter.
  app.silent = true;
  setHeadersDirectly(app);

  app.use(requestLog(log));
  app.use(closeAfterUnreadBody());
  app.use(requestDeadline(config.database.TIMEOUT_SECONDS));
  app.use(identifyClient(config.security.IPV6_PREFIX_BITS));
  // The pages are no API: they stay same-origin.
  app.use(cors(config, isPagePath));
  app.use(errorHandler());
  // Under /reset_password a person sees pages, errors included; the API's JSON errors elsewhere.
  app.use(pagesBoundary(config));
  app.use(requireBodyType());
  // One batcher for the API and the pages: reset requests from both share their INSERTs.
  const outbox = new EnqueueBatcher(db);
  // One set of limits for the API and the pages: a client has one budget whichever way it asks.
  const limits = createLimits(db, config.security);
  const resetRequests = limits.resetRequestsPerClient && new LimitedEnqueue(db, limits.resetRequestsPerClient);
  const [resetRoutes, ...otherRoutes] = appRouters({ db, config, outbox, resetRequests, limits });
  // The reset request, the route under load, is matched on its own router first: @koa/router
  // leaves ~160 bytes of garbage for every route it tries, and would otherwise try all of them.
  app.use(resetRoutes!.routes());
  // The others mounted into one router, so a request is matched in one pass over every route.
  // Its 405s and Allow headers count the reset routes too: routers add to one `ctx.matched`.
  const routes = new Router({ sensitive: true });
  for (const router of otherRoutes) routes.use(router.routes());
  // The pages a person sees (src/pages/); not in appRouters: they are no part of the OpenAPI document.
  routes.use(pagesRouter({ db, config, outbox, limits }).routes());
  app.use(routes.routes());
  app.use(routes.allowedMethods());
  return app;
}

/** /health, /ready and /metrics: what every role serves on the metrics port (`metrics.PORT`). */
export function createOpsApp({ db, log, metrics }: Omit<AppDeps, 'config'> & { metrics: Metrics }): Koa {
  const app = new Koa();
  app.silent = true;
  setHeadersDirectly(app);
  app.use(requestLog(log));
  app.use(errorHandler());
  for (const router of [healthRouter({ db }), metricsRouter({ metrics })]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
