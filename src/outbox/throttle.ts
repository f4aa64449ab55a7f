/**
 * SQL of `pwd_reset_throttle`: at most one reset e-mail per address per cooldown, counted for
 * unknown addresses too (so the throttle tells nothing about who has an account).
 */
import type { Db, Tx } from '../db.ts';

/**
 * Takes the address's slot for outbox row `outboxId` if the cooldown since the last one has run
 * out (or the slot is already this row's, on a retry). One atomic statement, so two dispatchers
 * working two requests for one address cannot both win.
 */
export async function takeResetSlot(db: Db | Tx, email: string, outboxId: string, cooldownSeconds: number): Promise<boolean> {
  const { rows } = await db.raw(
    `
    INSERT INTO pwd_reset_throttle AS t (email_key, outbox_id, sent_at) VALUES (lower(?), ?, now())
    ON CONFLICT (email_key) DO UPDATE SET outbox_id = excluded.outbox_id, sent_at = now()
      WHERE t.sent_at <= now() - make_interval(secs => ?) OR t.outbox_id = excluded.outbox_id
    RETURNING 1
    `,
    [email, outboxId, cooldownSeconds],
  );
  return rows.length === 1;
}

/** Slots whose cooldown ran out long ago are noise: housekeeping drops them. */
export function pruneResetSlots(db: Db, olderThanSeconds: number): Promise<number> {
  return db('pwd_reset_throttle').where('sent_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds])).del();
}
