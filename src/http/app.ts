/**
 * The HTTP application: error handling, body parsing, the routers. It never listens; `main.ts`
 * and the tests do that, so a test can run the real app on a port of its own.
 */
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { requestDeadline } from './deadline.ts';
import { bodyParseError, errorHandler } from './errorHandler.ts';
import { requestLog } from './requestLog.ts';
import { docsRouter } from './routes/docs.ts';
import { healthRouter } from './routes/health.ts';
import { tokensRouter } from './routes/tokens.ts';
import { usersRouter } from './routes/users.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

export interface AppDeps {
  db: Db;
  config: Settings;
  log: Logger;
  metrics: Metrics;
}

/** Every router the app serves; the OpenAPI test reads their routes. */
export function appRouters(deps: Pick<AppDeps, 'db' | 'config' | 'metrics'>) {
  return [healthRouter(deps), docsRouter(), tokensRouter(deps), usersRouter(deps)];
}

export function createApp({ db, config, log, metrics }: AppDeps): Koa {
  const app = new Koa();
  // Trust X-Forwarded-For (ctx.ip) only when told: otherwise any client could pick its own address.
  app.proxy = config.security.TRUST_PROXY;
  // Koa would print errors itself; errorHandler already logs the ones that matter.
  app.silent = true;
  const limit = `${config.api.BODY_LIMIT_KB}kb`;

  app.use(requestDeadline(config.database.TIMEOUT_SECONDS));
  app.use(requestLog(log));
  app.use(errorHandler());
  app.use(
    bodyParser({
      enableTypes: ['json', 'form'],
      jsonLimit: limit,
      formLimit: limit,
      strict: true,
      onerror: (err) => {
        throw bodyParseError(err);
      },
    }),
  );
  for (const router of appRouters({ db, config, metrics })) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}

/** Only /health, /ready and /metrics: what a dispatcher running alone shows on METRICS_PORT. */
export function createOpsApp({ db, log, metrics }: Omit<AppDeps, 'config'>): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(requestLog(log));
  app.use(errorHandler());
  const router = healthRouter({ db, metrics });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
