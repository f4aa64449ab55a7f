/**
 * SQL of `pwd_reset_throttle`, and of the user's reset nonce it renews: at most one reset e-mail
 * per address per cooldown, counted for unknown addresses too (so the throttle tells nothing
 * about who has an account). The cooldown escalates per address: after the n-th e-mail in a row
 * it is `cooldown * 2^(n-1)`, at most `maxCooldown`, and a day with no e-mail starts it over;
 * a fixed 60 s let anyone send a victim 1,440 e-mails a day, this lets through about 30. One statement takes the slot and renews the nonce, because the
 * dispatcher runs it for every reset e-mail.
 */
import { preparedAs, type Conn } from '../db/database.ts';
import type { UserRow } from './queries.ts';

export interface SlotRequest {
  email: string;
  outboxId: string;
  /** The user's new reset nonce, if the slot is taken and a user has the address. */
  nonce: string;
}

export type ResetUser = Pick<UserRow, 'username' | 'email' | 'password_hash' | 'reset_nonce'>;

export interface SlotOutcome {
  allowed: boolean;
  user: ResetUser | undefined;
}

/**
 * The dispatcher's hot path for many rows in one round trip. Takes each address's slot for its
 * outbox row if the cooldown since the last one has run out (or the slot is already this row's,
 * on a retry), atomically, so two dispatchers working two requests for one address cannot both
 * win; and, where it got the slot, renews the reset nonce of the user with that address.
 * A cooldown of 0 is off: `now()` is the transaction's start, so a later transaction's slot could
 * otherwise look newer than "now". The addresses must differ (case-insensitively): ON CONFLICT
 * cannot touch one slot twice in a statement, and PostgreSQL refuses such a batch with 21000.
 */
export async function takeResetSlotsAndRenewNonces(
  db: Conn,
  cooldownSeconds: number,
  requests: readonly SlotRequest[],
  maxCooldownSeconds = Math.max(cooldownSeconds, 3600),
): Promise<SlotOutcome[]> {
  const { rows } = await db
    .raw<{ rows: { outbox_id: string; allowed: boolean; user: ResetUser | null }[] }>(
      `
    WITH req AS (
      SELECT * FROM unnest(:emails::text[], :ids::bigint[], :nonces::text[]) AS r(email, outbox_id, nonce)
    ),
    slot AS (
      INSERT INTO pwd_reset_throttle AS t (email_key, outbox_id, sent_at, strikes)
      SELECT lower(email), outbox_id, now(), 0 FROM req
      ON CONFLICT (email_key) DO UPDATE SET
        outbox_id = excluded.outbox_id,
        sent_at = now(),
        -- A retry of the same row is no new e-mail; a quiet day starts the escalation over.
        strikes = CASE WHEN t.outbox_id = excluded.outbox_id THEN t.strikes
                       WHEN t.sent_at <= now() - interval '1 day' THEN 0
                       ELSE least(t.strikes + 1, 30) END
        WHERE :cooldown <= 0
           OR t.sent_at <= now() - make_interval(secs => least(:cooldown::float8 * power(2, t.strikes), greatest(:maxCooldown::float8, :cooldown::float8)))
           OR t.outbox_id = excluded.outbox_id
      RETURNING t.outbox_id
    ),
    renewed AS (
      UPDATE users u SET reset_nonce = req.nonce
      FROM req JOIN slot USING (outbox_id)
      WHERE lower(u.email) = lower(req.email)
      RETURNING req.outbox_id, u.username, u.email, u.password_hash, u.reset_nonce
    )
    SELECT req.outbox_id, slot.outbox_id IS NOT NULL AS allowed,
           CASE WHEN renewed.outbox_id IS NOT NULL
             THEN json_build_object('username', renewed.username, 'email', renewed.email,
                                    'password_hash', renewed.password_hash, 'reset_nonce', renewed.reset_nonce)
           END AS "user"
    FROM req LEFT JOIN slot USING (outbox_id) LEFT JOIN renewed USING (outbox_id)
    `,
      {
        emails: requests.map((r) => r.email),
        ids: requests.map((r) => r.outboxId),
        nonces: requests.map((r) => r.nonce),
        cooldown: cooldownSeconds,
        maxCooldown: maxCooldownSeconds,
      },
    )
    .options(preparedAs('users_take_reset_slots'));
  const byId = new Map(rows.map((r) => [String(r.outbox_id), { allowed: r.allowed, user: r.user ?? undefined }]));
  return requests.map((r) => byId.get(r.outboxId)!);
}

/** Slots whose cooldown ran out long ago are noise: housekeeping drops them. */
export function pruneResetSlots(db: Conn, olderThanSeconds: number): Promise<number> {
  return db('pwd_reset_throttle')
    .where('sent_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds]))
    .del();
}
