/**
 * "Your password was changed": queued by `commands/changePassword.ts` in the same transaction as
 * the change. It carries no token, says what to do if the change was not the user's, and is
 * never throttled.
 */
import { z } from 'zod';
import { defineTask, SENT, type Task } from '../outbox/tasks.ts';
import type { TaskDeps } from './deps.ts';
import { sendMail } from './send.ts';

export const PWD_CHANGED_EMAIL = 'pwd_changed_email';

/** The payload versions this task reads. 1: what `commands/changePassword.ts` queues. */
const payloads = {
  1: z.object({
    email: z.string(),
    username: z.string(),
    changed_at: z.string(),
    locale: z.string().optional(),
  }),
};

export function pwdChangedEmailTask({ config, mailer }: Omit<TaskDeps, 'db'>): Task {
  return defineTask(payloads, async (payload) => {
    await sendMail(
      mailer,
      'pwd_changed_email',
      {
        sender: config.email.smtp_sender,
        to: payload.email,
        username: payload.username,
        changed_at: payload.changed_at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
        url: config.security.PWD_RESET_URL,
      },
      payload.locale,
    );
    return SENT;
  });
}
