/**
 * `npm start`: the API and the dispatcher in one process (or one of them, from `dundie serve`).
 * SIGINT/SIGTERM stop intake, let the row in hand finish, close the pools, stop the embedded
 * PostgreSQL and exit 0; a second signal or a stuck shutdown exits 1.
 */
import process from 'node:process';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { isEntry } from './runtime.ts';
import { startService, type Roles, type RunningService } from './service.ts';

export async function serve(roles: Roles = { api: true, dispatcher: true }): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) console.error(`dundie: ${problem}`);
    process.exit(1);
  }
  const log = createLogger(config);
  // Handlers first: a signal that arrives while the service is still starting waits for the
  // start to finish and then stops it cleanly, instead of killing the process half-way.
  // Assigned below, once the handlers that await it are in place.
  // eslint-disable-next-line prefer-const
  let starting: Promise<RunningService | undefined> | undefined;
  let stoppingSince: number | undefined;
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      // Ctrl-C reaches npm, tsx and us at once, and npm and tsx pass it on: repeats within a
      // moment are that echo. A signal sent later means "stop now".
      if (Date.now() - stoppingSince < 2000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    // The dispatcher's grace for sends in flight, the API's for idle keep-alive connections to
    // drain (src/http/server.ts), plus a little for closing pools and servers.
    setTimeout(
      () => {
        log.error('shutdown took too long: exiting');
        process.exit(1);
      },
      (config.dispatcher.SHUTDOWN_GRACE_SECONDS +
        2 * config.database.TIMEOUT_SECONDS +
        config.api.KEEP_ALIVE_TIMEOUT_SECONDS +
        5) *
        1000,
    ).unref();
    const service = await starting;
    await service?.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  starting = startService(config, log, roles).catch((err) => {
    log.fatal({ err }, 'could not start');
    process.exit(1);
  });
  await starting;
}

if (isEntry(import.meta)) await serve();
