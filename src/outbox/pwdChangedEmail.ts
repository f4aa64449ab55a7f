/**
 * "Your password was changed": queued in the same transaction as the change, so it cannot be
 * lost nor sent for a change that did not happen. It carries no token, and says what to do if
 * the change was not the user's. It is never throttled.
 */
import type { Settings } from '../config.ts';
import type { Db, Tx } from '../db.ts';
import type { Mailer } from './mailer.ts';
import { enqueue } from './queries.ts';
import type { SendOutcome } from './pwdResetEmail.ts';

export const PWD_CHANGED_EMAIL = 'pwd_changed_email';

export function queuePwdChangedEmail(
  db: Db | Tx,
  config: Settings,
  user: { username: string; email: string; updated_at: Date },
  locale?: string,
): Promise<string> {
  const payload = { email: user.email, username: user.username, changed_at: new Date(user.updated_at).toISOString() };
  return enqueue(db, {
    kind: PWD_CHANGED_EMAIL,
    payload: locale ? { ...payload, locale } : payload,
    maxAttempts: config.dispatcher.MAX_ATTEMPTS,
  });
}

export async function sendPwdChangedEmail(
  { config, mailer }: { config: Settings; mailer: Mailer },
  payload: Record<string, unknown>,
): Promise<SendOutcome> {
  await mailer.send('pwd_changed_email', {
    sender: config.email.smtp_sender,
    to: String(payload.email),
    username: String(payload.username),
    changed_at: String(payload.changed_at).replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
    url: config.security.PWD_RESET_URL,
  }, typeof payload.locale === 'string' ? payload.locale : undefined);
  return { sent: true };
}
