/**
 * The twin of the first API's `try_to_send_pwd_reset_email` (the shell's): queues the reset
 * e-mail and works that row at once, through the same task, throttle and records as the
 * dispatcher, so the outbox shows it like any other.
 */
import { dispatchOnce } from '../outbox/dispatchOnce.ts';
import type { WorkerDeps } from '../outbox/processRow.ts';
import type { Settings } from '../config.ts';
import { requestPwdReset } from './requestPwdReset.ts';

export async function tryToSendPwdResetEmail(worker: WorkerDeps, config: Settings, email: string) {
  const id = await requestPwdReset(worker.db, config, email);
  const result = await dispatchOnce(worker, { ids: [id] });
  return { sent: result.sent === 1, skipped: result.skipped === 1, failed: result.failed === 1 };
}
