/**
 * The HTTP application: error handling, body parsing, the routers. It never listens; `main.ts`
 * and the tests do that, so a test can run the real app on a port of its own.
 */
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import type { Settings } from './config.ts';
import type { Db } from './db.ts';
import { bodyParseError, errorHandler } from './http/errorHandler.ts';
import { requestLog } from './http/requestLog.ts';
import { docsRouter } from './http/routes/docs.ts';
import { healthRouter } from './http/routes/health.ts';
import { tokensRouter } from './http/routes/tokens.ts';
import { usersRouter } from './http/routes/users.ts';
import type { Logger } from './log.ts';

export interface AppDeps {
  db: Db;
  config: Settings;
  log: Logger;
}

/** Every router the app serves; the OpenAPI test reads their routes. */
export function appRouters(deps: Pick<AppDeps, 'db' | 'config'>) {
  return [healthRouter(), docsRouter(), tokensRouter(deps), usersRouter(deps)];
}

export function createApp({ db, config, log }: AppDeps): Koa {
  const app = new Koa();
  // Trust X-Forwarded-For (ctx.ip) only when told: otherwise any client could pick its own address.
  app.proxy = config.security.TRUST_PROXY;
  // Koa would print errors itself; errorHandler already logs the ones that matter.
  app.silent = true;
  const limit = `${config.api.BODY_LIMIT_KB}kb`;

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
  for (const router of appRouters({ db, config })) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
