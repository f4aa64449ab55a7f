/**
 * The reset e-mail's task: the request only queued the address (no lookup, so its cost is the
 * same for every address); here the user is looked up and the link and a one-time code are sent.
 * The address's throttle slot, the code's hash and the user's new reset nonce are taken in one
 * statement, shared by the rows in flight together (group commit).
 */
import { z } from 'zod';
import { newResetCode, resetCodeHash } from '../auth/resetCodes.ts';
import { createPwdResetToken, newResetNonce } from '../auth/tokens.ts';
import { isDataDbError, isRowBoundDbError } from '../db/errors.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import { defineTask, PermanentFailure, RetryLater, sent, skipped, type Task } from '../outbox/taskList.ts';
import { surelyNotDelivered } from '../email/refusals.ts';
import { releaseResetSlot, takeResetSlotsAndRenewNonces, type SlotRequest } from '../users/resetThrottle.ts';
import type { TaskDeps } from './deps.ts';
import { OVERRIDE_PAYLOAD_VERSION } from './kinds.ts';
import { requesterPayload, resetEmailEvents } from './securityEvents.ts';
import { mailSender, SUPPRESSED } from './send.ts';

export const NO_SUCH_USER = 'no user with this email';
export const THROTTLED = 'throttled';
export const SUPERSEDED = 'superseded by a newer request';

/**
 * The payload versions this task reads. 1: what `commands/requestPwdReset.ts` queues, the address
 * as the client sent it, and where the request came from (`requester`, for its security event;
 * optional, so a release that does not read it still reads the row, and it reads theirs). 2: the
 * same, sent by a superuser or an operator who may have overridden the address's cooldown; its
 * own version, so a dispatcher that knows no override leaves the row for one that does instead
 * of throttling it.
 */
const v1 = z.object({ email: z.string(), locale: z.string().optional(), requester: requesterPayload.optional() });
const payloads = {
  1: v1.transform((p) => ({ ...p, override_cooldown: false })),
  [OVERRIDE_PAYLOAD_VERSION]: v1.extend({ override_cooldown: z.boolean() }),
};

export function pwdResetEmailTask({ db, config, mailer }: TaskDeps): Task {
  const cooldown = config.security.PWD_RESET_COOLDOWN_SECONDS;
  const maxCooldown = config.security.PWD_RESET_COOLDOWN_MAX_SECONDS;
  // One address twice in a batch (an address being bombed) is refused whole with 21000, an
  // address past the index's limit with 54000, and a user row another transaction holds times the
  // statement out: then the batch is split in halves, written in order, until only that row fails.
  const send = mailSender({ db, mailer });
  const slotsWithCooldown = (seconds: number) =>
    new GroupCommit(
      (batch: SlotRequest[]) =>
        takeResetSlotsAndRenewNonces(db, seconds, batch, maxCooldown, {
          codeSeconds: config.security.RESET_TOKEN_EXPIRE_MINUTES * 60,
        }),
      { bisect: isRowBoundDbError, maxInFlight: 1 },
    );
  const slots = slotsWithCooldown(cooldown);
  // A cooldown of 0 takes the slot whatever its age: an override still counts as an e-mail sent.
  const overriddenSlots = slotsWithCooldown(0);
  return defineTask(payloads, async (payload, row, { signal }) => {
    // Made for an address with no account too: its slot then holds a code nobody has, and trying
    // one costs the same for every address.
    const code = newResetCode();
    const codeHash = resetCodeHash(config.security.SECRET_KEY, code);
    const { allowed, superseded, user } = await (payload.override_cooldown ? overriddenSlots : slots)
      .add({ email: payload.email, outboxId: row.id, nonce: newResetNonce(), codeHash })
      .catch((err: unknown) => {
        // Refused alone (the batch was split): this address fails the same way every time.
        if (!isDataDbError(err)) throw err;
        // The server's own words alone: `runPrepared` puts no statement in front of them.
        throw new PermanentFailure(`the address cannot be used: ${(err as Error).message}`);
      });
    const events = resetEmailEvents(payload.requester);
    // The user is not looked up for a refused slot: the event names none.
    if (superseded) return skipped(SUPERSEDED, events.skipped('superseded'));
    if (!allowed) return skipped(THROTTLED, events.skipped('throttled'));
    // Nor does it name the address: it is no one's.
    if (!user) return skipped(NO_SUCH_USER, events.skipped('no_account'));
    try {
      // The token is bound to the current password and to the nonce just renewed.
      const outcome = await send(
        'pwd_reset_email',
        {
          sender: config.email.smtp_sender,
          to: user.email,
          url: config.security.PWD_RESET_URL,
          pwd_reset_token: createPwdResetToken(config.security, user),
          code,
          expire: config.security.RESET_TOKEN_EXPIRE_MINUTES,
        },
        payload.locale,
        row,
        signal,
      );
      if (outcome === SUPPRESSED) {
        // Nothing went out: the slot is not this row's to keep.
        await releaseResetSlot(db, payload.email, row.id).catch(() => {});
        return skipped(SUPPRESSED, events.skipped('suppressed', user.id));
      }
    } catch (err) {
      // Refused: the slot holds no e-mail, so the person's next request goes out at once instead
      // of waiting for this row's backoff. If freeing fails, the slot stays this row's.
      if (surelyNotDelivered(err instanceof PermanentFailure || err instanceof RetryLater ? err.cause : err))
        await releaseResetSlot(db, payload.email, row.id).catch(() => {});
      throw err;
    }
    return sent(events.sent(user.id));
  });
}
