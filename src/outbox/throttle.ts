/**
 * SQL of `pwd_reset_throttle`: at most one reset e-mail per address per cooldown, counted for
 * unknown addresses too (so the throttle tells nothing about who has an account).
 */
import type { Db, Tx } from '../db.ts';
import type { UserRow } from '../users/queries.ts';

/**
 * Takes the address's slot for outbox row `outboxId` if the cooldown since the last one has run
 * out (or the slot is already this row's, on a retry). One atomic statement, so two dispatchers
 * working two requests for one address cannot both win. A cooldown of 0 is off: `now()` is the
 * transaction's start, so a later transaction's slot could otherwise look newer than "now".
 */
export async function takeResetSlot(db: Db | Tx, email: string, outboxId: string, cooldownSeconds: number): Promise<boolean> {
  const { rows } = await db.raw(TAKE_SLOT, { email, outboxId, cooldown: cooldownSeconds });
  return rows.length === 1;
}

const TAKE_SLOT = `
  INSERT INTO pwd_reset_throttle AS t (email_key, outbox_id, sent_at) VALUES (lower(:email), :outboxId, now())
  ON CONFLICT (email_key) DO UPDATE SET outbox_id = excluded.outbox_id, sent_at = now()
    WHERE :cooldown <= 0 OR t.sent_at <= now() - make_interval(secs => :cooldown) OR t.outbox_id = excluded.outbox_id
  RETURNING 1`;

/**
 * The dispatcher's hot path in one round trip: takes the address's slot (as `takeResetSlot`)
 * and, only if it got it, renews the reset nonce of the user with that address.
 */
export async function takeResetSlotAndRenewNonce(
  db: Db | Tx,
  email: string,
  outboxId: string,
  cooldownSeconds: number,
  nonce: string,
): Promise<{ allowed: boolean; user: Pick<UserRow, 'username' | 'email' | 'password_hash' | 'reset_nonce'> | undefined }> {
  const { rows } = await db.raw(
    `
    WITH slot AS (${TAKE_SLOT}),
    renewed AS (
      UPDATE users SET reset_nonce = :nonce
      WHERE lower(email) = lower(:email) AND EXISTS (SELECT 1 FROM slot)
      RETURNING username, email, password_hash, reset_nonce
    )
    SELECT EXISTS (SELECT 1 FROM slot) AS allowed, (SELECT row_to_json(renewed) FROM renewed) AS "user"
    `,
    { email, outboxId, cooldown: cooldownSeconds, nonce },
  );
  return { allowed: rows[0].allowed, user: rows[0].user ?? undefined };
}

/** Slots whose cooldown ran out long ago are noise: housekeeping drops them. */
export function pruneResetSlots(db: Db, olderThanSeconds: number): Promise<number> {
  return db('pwd_reset_throttle').where('sent_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds])).del();
}
