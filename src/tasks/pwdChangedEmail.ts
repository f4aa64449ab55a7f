/**
 * "Your password was changed": queued by `commands/changePassword.ts` in the same transaction as
 * the change. It carries no token, says what to do if the change was not the user's, and is
 * never throttled.
 */
import { z } from 'zod';
import { defineTask, SENT, skipped, type Task } from '../outbox/taskList.ts';
import { PASSWORD_CHANGE_HOWS } from '../users/securityEvents.ts';
import type { TaskDeps } from './deps.ts';
import { mailSender, SUPPRESSED } from './send.ts';

/**
 * The payload versions this task reads. 1: what `commands/changePassword.ts` queues. `how` and
 * `client` came later as optional fields of the same version, not a new one: a dispatcher that
 * does not know them still sends the notice (without them) instead of leaving it waiting.
 */
const payloads = {
  1: z.object({
    email: z.string(),
    username: z.string(),
    changed_at: z.string(),
    locale: z.string().optional(),
    // A value a later release adds is read as none: the notice goes out without its "how" line.
    how: z.enum(PASSWORD_CHANGE_HOWS).optional().catch(undefined),
    client: z.string().optional(),
  }),
};

export function pwdChangedEmailTask({ db, config, mailer }: TaskDeps): Task {
  const send = mailSender({ db, mailer });
  return defineTask(payloads, async (payload, row, { signal }) => {
    const sent = await send(
      'pwd_changed_email',
      {
        sender: config.email.smtp_sender,
        to: payload.email,
        username: payload.username,
        changed_at: payload.changed_at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
        url: config.security.PWD_RESET_URL,
        how: payload.how ?? '',
        client: payload.client ?? '',
      },
      payload.locale,
      row,
      signal,
    );
    return sent === SUPPRESSED ? skipped(SUPPRESSED) : SENT;
  });
}
