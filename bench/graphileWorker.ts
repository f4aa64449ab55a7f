/**
 * The peer: graphile-worker doing the same work as Dundie's dispatcher for each job (look the
 * user up, make the token, render the template, send through the same transport), at the same
 * concurrency, otherwise with its defaults. Configured from the same DUNDIE_* environment.
 */
import process from 'node:process';
import { Logger, run } from 'graphile-worker';
import { loadConfig } from '../src/config.ts';
import { createDb } from '../src/db.ts';
import { createMailer } from '../src/outbox/mailer.ts';
import { tryToSendPwdResetEmail } from '../src/outbox/pwdResetEmail.ts';

const config = loadConfig();
// Dundie's pool size for the lookups (each job holds a connection only for its query); one per job
// in flight would take 130 of the server's 100 connections with two processes.
const db = createDb(config.databaseUrl!, { poolMax: config.database.POOL_MAX });
const mailer = createMailer(config.email);
const runner = await run({
  connectionString: config.databaseUrl!,
  concurrency: config.dispatcher.CONCURRENCY,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  taskList: {
    async pwd_reset_email(payload) {
      await tryToSendPwdResetEmail({ db, config, mailer }, String((payload as { email: string }).email));
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
