/**
 * "Forgot my password": queues a reset e-mail for an address, whoever it belongs to. It does not
 * look the user up (the dispatcher does, later), so its answer and its cost are the same for
 * every address.
 */
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { EnqueueBatcher } from '../outbox/enqueueBatcher.ts';
import { enqueue } from '../outbox/queries.ts';
import { OVERRIDE_PAYLOAD_VERSION, PWD_RESET_EMAIL } from '../tasks/pwdResetEmail.ts';
import { toRequesterPayload } from '../tasks/securityEvents.ts';
import type { Requester } from '../users/securityEvents.ts';

/** What every reset request is answered with, byte for byte (SPEC §1). */
export const PWD_RESET_MESSAGE = 'If we found a user with that email, we sent a password reset token to it.';

/**
 * Through `db` (or a transaction), or through the API's batcher, which shares one INSERT among
 * the requests that arrive together. Resolves to the row's id once it is committed. `locale`,
 * when the request named one, is kept in the payload: the e-mail is written in it. Past
 * `deadline` the row is not inserted and the call fails with `DeadlineExceeded`. `requester` rides
 * in the payload to the dispatcher, which writes the security event: the request writes nothing more.
 */
export function requestPwdReset(
  db: Conn | EnqueueBatcher,
  config: Settings,
  email: string,
  {
    locale,
    deadline,
    requester,
    overrideCooldown,
  }: {
    locale?: string;
    deadline?: Date;
    requester?: Requester;
    /** Only for a superuser's or an operator's request (`sendPwdReset.ts`): send even within the cooldown. */
    overrideCooldown?: boolean;
  } = {},
): Promise<string> {
  const payload = {
    email,
    ...(locale && { locale }),
    ...(requester && { requester: toRequesterPayload(requester) }),
  };
  const row = {
    kind: PWD_RESET_EMAIL,
    ...(overrideCooldown
      ? { payload: { ...payload, override_cooldown: true }, payloadVersion: OVERRIDE_PAYLOAD_VERSION }
      : { payload }),
    maxAttempts: config.dispatcher.MAX_ATTEMPTS,
    deadline,
  };
  return db instanceof EnqueueBatcher ? db.enqueue(row) : enqueue(db, row);
}
