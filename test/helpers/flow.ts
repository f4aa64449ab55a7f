/** Steps of the reset flow that several test files share. */
import { readFile } from 'node:fs/promises';
import type { Settings } from '../../src/config.ts';
import type { Db } from '../../src/db/database.ts';
import { createLogger } from '../../src/log.ts';
import type { DispatchResult } from '../../src/outbox/dispatcher.ts';
import { createEmailDispatcher } from '../../src/tasks/emailDispatcher.ts';

/** Works the outbox once, as `dundie dispatch --once` does. */
export function dispatch(db: Db, config: Settings, workerId?: string): Promise<DispatchResult> {
  return createEmailDispatcher({ db, config, log: createLogger(config), workerId }, { continuous: false }).done;
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

/** The one-time code out of a reset e-mail's text: the 8 digits alone on their line. */
export function codeFromText(text: string): string {
  const match = /^(\d{8})$/m.exec(text);
  if (!match) throw new Error(`no reset code in:\n${text}`);
  return match[1]!;
}
