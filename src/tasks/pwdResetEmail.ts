/**
 * The reset e-mail's task: the request only queued the address (no lookup, so its cost is the
 * same for every address); here the user is looked up and the link is sent. The address's
 * throttle slot and the user's new reset nonce are taken in one statement, shared by the rows in
 * flight together (group commit).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createPwdResetToken } from '../auth/tokens.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import { defineTask, SENT, skipped, type Task } from '../outbox/tasks.ts';
import { takeResetSlotsAndRenewNonces, type SlotRequest } from '../users/resetSlots.ts';
import type { TaskDeps } from './deps.ts';
import { sendMail } from './send.ts';

export const PWD_RESET_EMAIL = 'pwd_reset_email';
export const NO_SUCH_USER = 'no user with this email';
export const THROTTLED = 'throttled';

export const newResetNonce = () => randomBytes(12).toString('base64url');

/**
 * The payload versions this task reads. 1: what `commands/requestPwdReset.ts` queues, the address
 * as the client sent it.
 */
const payloads = {
  1: z.object({ email: z.string(), locale: z.string().optional() }),
};

export function pwdResetEmailTask({ db, config, mailer }: TaskDeps): Task {
  const cooldown = config.security.PWD_RESET_COOLDOWN_SECONDS;
  const maxCooldown = config.security.PWD_RESET_COOLDOWN_MAX_SECONDS;
  // One address twice in a batch (an address being bombed) is refused whole with 21000: then the
  // batch is split in halves, written in order, until the two land in different statements.
  const slots = new GroupCommit(
    (batch: SlotRequest[]) => takeResetSlotsAndRenewNonces(db, cooldown, batch, maxCooldown),
    { bisect: true },
  );
  return defineTask(payloads, async (payload, row) => {
    const { allowed, user } = await slots.add({
      email: payload.email,
      outboxId: row.id,
      nonce: newResetNonce(),
    });
    if (!allowed) return skipped(THROTTLED);
    if (!user) return skipped(NO_SUCH_USER);
    // The token is bound to the current password and to the nonce just renewed.
    await sendMail(
      mailer,
      'pwd_reset_email',
      {
        sender: config.email.smtp_sender,
        to: user.email,
        url: config.security.PWD_RESET_URL,
        pwd_reset_token: createPwdResetToken(config.security, user),
        expire: config.security.RESET_TOKEN_EXPIRE_MINUTES,
      },
      payload.locale,
    );
    return SENT;
  });
}
