/**
 * "Forgot my password": queues a reset e-mail for an address, whoever it belongs to. It does not
 * look the user up (the dispatcher does, later), so its answer and its cost are the same for
 * every address.
 */
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { EnqueueBatcher } from '../outbox/enqueueBatcher.ts';
import { enqueue, type NewOutboxRow } from '../outbox/queries.ts';
import { OVERRIDE_PAYLOAD_VERSION, PWD_RESET_EMAIL } from '../tasks/kinds.ts';
import { toRequesterPayload } from '../tasks/securityEvents.ts';
import type { Requester } from '../users/securityEvents.ts';
import type { LimitedEnqueue, LimitedOutcome } from './limitedEnqueue.ts';

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
  options: ResetOptions = {},
): Promise<string> {
  const row = resetRow(config, email, options);
  return db instanceof EnqueueBatcher ? db.enqueue(row) : enqueue(db, row);
}

/**
 * The same, counted on the client's reset budget by the statement that queues it (one round trip
 * for both): refused past the limit, with nothing queued.
 */
export function requestPwdResetWithinLimit(
  limited: LimitedEnqueue,
  config: Settings,
  email: string,
  client: string,
  options: ResetOptions = {},
): Promise<LimitedOutcome> {
  return limited.enqueue(client, resetRow(config, email, options));
}

interface ResetOptions {
  locale?: string;
  deadline?: Date;
  requester?: Requester;
  /** Only for a superuser's or an operator's request (`sendPwdReset.ts`): send even within the cooldown. */
  overrideCooldown?: boolean;
}

function resetRow(
  config: Settings,
  email: string,
  { locale, deadline, requester, overrideCooldown }: ResetOptions,
): NewOutboxRow {
  const payload = {
    email,
    ...(locale && { locale }),
    ...(requester && { requester: toRequesterPayload(requester) }),
  };
  return {
    kind: PWD_RESET_EMAIL,
    ...(overrideCooldown
      ? { payload: { ...payload, override_cooldown: true }, payloadVersion: OVERRIDE_PAYLOAD_VERSION }
      : { payload }),
    maxAttempts: config.dispatcher.MAX_ATTEMPTS,
    deadline,
  };
}
