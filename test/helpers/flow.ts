/** Steps of the reset flow that several test files share. */
import { readFile } from 'node:fs/promises';
import type { Settings } from '../../src/config.ts';
import type { Db } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import { createMailer } from '../../src/email/mailer.ts';
import { newWorkerId } from '../../src/outbox/dispatcher.ts';
import { dispatchUntilIdle, type DispatchResult } from '../../src/outbox/dispatchOnce.ts';
import { emailWorker } from '../../src/tasks/worker.ts';

/** Works the outbox once, as `dundie dispatch --once` does. */
export async function dispatch(db: Db, config: Settings, workerId = newWorkerId()): Promise<DispatchResult> {
  const mailer = createMailer(config.email);
  try {
    return await dispatchUntilIdle(emailWorker({ db, config, mailer, log: createLogger(config), workerId }));
  } finally {
    mailer.close();
  }
}

/** The token out of a reset link in a message's text. */
export function tokenFromText(text: string): string {
  const match = /\?pwd_reset_token=([\w.-]+)/.exec(text);
  if (!match) throw new Error(`no reset link in:\n${text}`);
  return match[1]!;
}

/** The messages of the debug-mode log, parsed back into address and body. */
export async function readEmailLog(config: Settings): Promise<{ to: string; message: string }[]> {
  const log = await readFile(config.email.log_file, 'utf8').catch(() => '');
  return [...log.matchAll(/--- START EMAIL (.*) ---\n([\s\S]*?)\n--- END OF EMAIL ---\n/g)].map((m) => ({
    to: m[1]!,
    message: m[2]!,
  }));
}
