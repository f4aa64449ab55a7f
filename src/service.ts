/**
 * The running service: the database (migrated), then the API and/or the dispatcher (on a thread
 * of its own when both run). Each role registers its own cleanup; `stop()` undoes them in
 * reverse, so the database goes last.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, createOpsApp } from './app.ts';
import type { Settings } from './config.ts';
import { migrateLatest, openDatabase } from './db.ts';
import type { Logger } from './log.ts';
import { startDispatcherThread } from './dispatcherThread.ts';
import { createMetrics } from './metrics.ts';
import { newWorkerId, startDispatcher } from './outbox/dispatcher.ts';
import { createMailer } from './outbox/mailer.ts';

export interface Roles {
  api: boolean;
  dispatcher: boolean;
}

export interface RunningService {
  /** The port the API listens on, when it runs. */
  readonly port: number | undefined;
  stop(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // In-flight requests finish; idle keep-alive sockets would otherwise hold the close open.
    server.closeIdleConnections();
  });
}

export async function startService(config: Settings, log: Logger, roles: Roles): Promise<RunningService> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log.error({ err }, 'error during shutdown');
      }
    }
  };
  try {
    const database = await openDatabase(config, log);
    cleanups.push(() => database.close());
    const applied = await migrateLatest(database.db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

    const metrics = createMetrics(database.db);
    let port: number | undefined;
    if (roles.dispatcher && roles.api) {
      // Both roles: the dispatcher on its own thread, so the two use both cores (issue 15).
      // Started before the API so that it stops after it: intake ends, then the thread drains.
      const thread = await startDispatcherThread(config, database.url, log, metrics);
      cleanups.push(() => thread.stop());
    }
    if (roles.api) {
      const apiLog = log.child({ role: 'api' });
      const server = createServer(createApp({ db: database.db, config, log: apiLog, metrics }).callback());
      port = await listen(server, config.port);
      cleanups.push(() => closeServer(server));
      apiLog.info({ port }, `API listening on http://localhost:${port}`);
    }
    if (roles.dispatcher && !roles.api) {
      const mailer = createMailer(config.email);
      cleanups.push(() => mailer.close());
      const dispatcherLog = log.child({ role: 'dispatcher' });
      const dispatcher = startDispatcher(
        { db: database.db, config, mailer, log: dispatcherLog, workerId: newWorkerId(), metrics },
        { listenUrl: database.url },
      );
      cleanups.push(() => dispatcher.stop());
      if (!roles.api && config.dispatcher.METRICS_PORT > 0) {
        // A dispatcher on its own still shows its health and figures to the scraper.
        const server = createServer(createOpsApp({ db: database.db, log: dispatcherLog, metrics }).callback());
        const metricsPort = await listen(server, config.dispatcher.METRICS_PORT);
        cleanups.push(() => closeServer(server));
        dispatcherLog.info({ port: metricsPort }, 'metrics on /metrics');
      }
    }
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
