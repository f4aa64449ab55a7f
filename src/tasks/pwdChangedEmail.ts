/**
 * "Your password was changed": queued by `commands/changePassword.ts` in the same transaction as
 * the change. It carries no token, says what to do if the change was not the user's, and is
 * never throttled.
 */
import { SENT, type Task } from '../outbox/tasks.ts';
import { localeOf, type TaskDeps } from './deps.ts';
import { sendMail } from './send.ts';

export const PWD_CHANGED_EMAIL = 'pwd_changed_email';

export function pwdChangedEmailTask({ config, mailer }: Omit<TaskDeps, 'db'>): Task {
  return async ({ payload }) => {
    await sendMail(
      mailer,
      'pwd_changed_email',
      {
        sender: config.email.smtp_sender,
        to: String(payload.email),
        username: String(payload.username),
        changed_at: String(payload.changed_at)
          .replace('T', ' ')
          .replace(/\.\d+Z$/, ' UTC'),
        url: config.security.PWD_RESET_URL,
      },
      localeOf(payload),
    );
    return SENT;
  };
}
