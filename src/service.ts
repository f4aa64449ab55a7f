/**
 * The running service: the database (migrated), then the API and/or the dispatcher (on a thread
 * of its own when both run). Each role registers its own cleanup; `stop()` undoes them in
 * reverse, so the database goes last.
 */
import cron from 'node-cron';
import { housekeeping } from './commands/housekeeping.ts';
import type { Settings } from './config.ts';
import { openDatabase } from './db/database.ts';
import { migrateLatest } from './db/migrations.ts';
import { createApp, createOpsApp } from './app.ts';
import { createHttpServer } from './http/server.ts';
import type { Logger } from './log.ts';
import { startDispatcherThread } from './dispatcherThread.ts';
import { createMetrics } from './metrics.ts';
import { setHashLimits } from './users/hashQueue.ts';

export interface Roles {
  api: boolean;
  dispatcher: boolean;
}

export interface RunningService {
  /** The port the API listens on, when it runs. */
  readonly port: number | undefined;
  /** The port `/metrics` is served on (`metrics.PORT`, or the free one taken for 0). */
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/** Housekeeping on its own cron schedule, beside the dispatcher; one run at a time. */
function scheduleHousekeeping(db: Parameters<typeof housekeeping>[0], config: Settings, log: Logger) {
  return cron.schedule(
    config.dispatcher.HOUSEKEEPING_CRON,
    async () => {
      try {
        const removed = await housekeeping(db, config);
        if (Object.values(removed).some((n) => n > 0)) log.info(removed, 'housekeeping');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'housekeeping failed');
      }
    },
    { name: 'housekeeping', noOverlap: true },
  );
}

export async function startService(config: Settings, log: Logger, roles: Roles): Promise<RunningService> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log.error({ err }, 'error during shutdown');
      }
    }
  };
  setHashLimits({
    concurrency: config.security.HASH_CONCURRENCY,
    queue: config.security.HASH_QUEUE,
    perClient: config.security.HASH_QUEUE_PER_CLIENT,
  });
  try {
    const database = await openDatabase(config, log);
    cleanups.push(() => database.close());
    const applied = await migrateLatest(database.db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

    const metrics = createMetrics(database.db);
    let port: number | undefined;
    if (roles.dispatcher && roles.api) {
      // Both roles: the dispatcher on its own thread, so the two use both cores.
      // Started before the API so that it stops after it: intake ends, then the thread drains.
      const thread = await startDispatcherThread(config, database.url, log, metrics);
      cleanups.push(() => thread.stop());
    }
    if (roles.api) {
      const apiLog = log.child({ role: 'api' });
      // Behind our proxy every connection comes from it: the per-client cap would cap the proxy.
      const perClient = config.security.TRUST_PROXY ? 0 : config.api.MAX_CONNECTIONS_PER_CLIENT;
      const server = createHttpServer(createApp({ db: database.db, config, log: apiLog }).callback(), {
        ...config.api,
        MAX_CONNECTIONS_PER_CLIENT: perClient,
      });
      port = await server.listen(config.port);
      cleanups.push(() => server.close());
      apiLog.info({ port }, `API listening on http://localhost:${port}`);
    }
    if (roles.dispatcher && !roles.api) {
      const dispatcherLog = log.child({ role: 'dispatcher' });
      // Imported where it runs: an API process, with or without its thread, never loads the mailer.
      const { createEmailDispatcher } = await import('./tasks/emailDispatcher.ts');
      const dispatcher = createEmailDispatcher(
        { db: database.db, config, log: dispatcherLog, metrics },
        { listen: database.listen },
      );
      cleanups.push(() => dispatcher.stop());
    }
    if (roles.dispatcher) {
      // Beside the dispatcher, wherever it runs: a cron that deletes what has served its time.
      const cleanup = scheduleHousekeeping(database.db, config, log.child({ role: 'housekeeping' }));
      cleanups.push(() => cleanup.destroy());
    }
    // One metrics server per process, whatever its roles, never on the API's port.
    const opsLog = log.child({ role: 'metrics' });
    const opsServer = createHttpServer(createOpsApp({ db: database.db, log: opsLog, metrics }).callback(), config.api);
    const metricsPort = await opsServer.listen(config.metrics.PORT, config.metrics.HOST);
    // A scraper's keep-alive connection need not hold the shutdown open.
    cleanups.push(() => opsServer.close(0));
    opsLog.info(
      { port: metricsPort, host: config.metrics.HOST },
      `metrics on http://${config.metrics.HOST}:${metricsPort}/metrics`,
    );
    return { port, metricsPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
