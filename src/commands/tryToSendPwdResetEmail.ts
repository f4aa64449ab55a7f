/**
 * The shell's `tryToSendPwdResetEmail` (SPEC §6): queues the reset
 * e-mail and works that row at once, through the same task, throttle and records as the
 * dispatcher, so the outbox shows it like any other.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { createEmailDispatcher } from '../tasks/emailDispatcher.ts';
import { requestPwdReset } from './requestPwdReset.ts';

export async function tryToSendPwdResetEmail(db: Db, config: Settings, log: Logger, email: string) {
  const id = await requestPwdReset(db, config, email);
  const result = await createEmailDispatcher({ db, config, log }, { continuous: false, ids: [id] }).done;
  return { sent: result.sent === 1, skipped: result.skipped === 1, failed: result.failed === 1 };
}
