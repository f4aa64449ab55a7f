/**
 * The peer: graphile-worker doing the same work as Dundie's dispatcher for each job (look the
 * user up, make the token, render the template, send through the same transport), at
 * `GRAPHILE_CONCURRENCY` jobs at once, otherwise with its defaults. Configured from the same
 * DUNDIE_* environment.
 */
import process from 'node:process';
import { Logger, run } from 'graphile-worker';
import { loadConfig } from '../src/config.ts';
import { createDb } from '../src/db/database.ts';
import { createMailer } from '../src/email/mailer.ts';
import { createTaskList } from '../src/tasks/emailDispatcher.ts';
import { GRAPHILE_CONCURRENCY } from './support.ts';

const config = loadConfig();
// Dundie's pool size for the lookups (each job holds a connection only for its query); one per job
// in flight would take 130 of the server's 100 connections with two processes.
const db = createDb(config.databaseUrl!, { poolMax: config.database.POOL_MAX });
const mailer = createMailer(config.email);
const tasks = createTaskList({ db, config, mailer });
const runner = await run({
  connectionString: config.databaseUrl!,
  concurrency: GRAPHILE_CONCURRENCY,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  // Dundie's own task for the kind, so both sides do exactly the same work per job (the throttle
  // slot is keyed by the job's id where Dundie keys it by the outbox row's).
  taskList: {
    async pwd_reset_email(payload, helpers) {
      const outcome = await tasks.pwd_reset_email!.run({
        id: helpers.job.id,
        kind: 'pwd_reset_email',
        payload: payload as Record<string, unknown>,
        payload_version: 1,
      });
      if (!outcome.sent) throw new Error(`not sent: ${outcome.skipped}`);
    },
  },
});
console.log(JSON.stringify({ ready: true }));
process.on('SIGTERM', async () => {
  await runner.stop();
  mailer.close();
  await db.destroy();
  process.exit(0);
});
