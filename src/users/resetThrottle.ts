/**
 * SQL of `pwd_reset_throttle`, and of the user's reset nonce it renews: at most one reset e-mail
 * per address per cooldown, counted for unknown addresses too (so the throttle tells nothing
 * about who has an account). The cooldown escalates per address: after the n-th e-mail in a row
 * it is `cooldown * 2^(n-1)`, at most `maxCooldown`, and a day with no e-mail starts it over, so
 * that nobody can fill a victim's inbox with requests (docs/security.md, "E-mail bombing"). One
 * statement takes the slot and renews the nonce, because the dispatcher runs it for every reset
 * e-mail.
 */
import type { Conn } from '../db/database.ts';
import { runPrepared } from '../db/preparedStatement.ts';
import type { UserRow } from './queries.ts';

export interface SlotRequest {
  email: string;
  outboxId: string;
  /** The user's new reset nonce, if the slot is taken and a user has the address. */
  nonce: string;
  /**
   * The keyed hash of the e-mail's one-time code (`auth/resetCodes.ts`), kept with the slot when it
   * is taken, whether or not a user has the address, replacing the last one with fresh tries.
   */
  codeHash?: string;
}

export type ResetUser = Pick<UserRow, 'id' | 'username' | 'email' | 'password_hash' | 'reset_nonce'>;

export interface SlotOutcome {
  allowed: boolean;
  /** Not allowed because a newer request for the address holds the slot. */
  superseded: boolean;
  user: ResetUser | undefined;
}

/** What the slots statement's JSON document carries of each request. */
const SLOT_REQUEST_FIELDS: (keyof SlotRequest)[] = ['email', 'outboxId', 'nonce', 'codeHash'];

/**
 * The dispatcher's hot path for many rows in one round trip. Takes each address's slot for its
 * outbox row if the cooldown since the last one has run out, or the slot is already this row's
 * (a retry), or the slot's e-mail was refused (`releaseResetSlot`), atomically, so two
 * dispatchers working two requests for one address cannot both win; and, where it got the slot,
 * renews the reset nonce of the user with that address. A row older than the slot's is
 * `superseded` and never takes it: a newer request's e-mail went out (or is going), and sending
 * the older one would only kill that newer link (the nonce).
 * A cooldown of 0 is off: `now()` is the transaction's start, so a later transaction's slot could
 * otherwise look newer than "now". The addresses must differ (case-insensitively): ON CONFLICT
 * cannot touch one slot twice in a statement, and PostgreSQL refuses such a batch with 21000.
 */
export async function takeResetSlotsAndRenewNonces(
  db: Conn,
  cooldownSeconds: number,
  requests: readonly SlotRequest[],
  maxCooldownSeconds = Math.max(cooldownSeconds, 3600),
  { codeSeconds = 0 }: { codeSeconds?: number } = {},
): Promise<SlotOutcome[]> {
  const rows = await runPrepared<{
    outbox_id: string;
    allowed: boolean;
    superseded: boolean;
    user: ResetUser | null;
  }>(
    db,
    'users_take_reset_slots',
    `
    WITH req AS (
      SELECT email, "outboxId" AS outbox_id, nonce, "codeHash" AS code_hash
      FROM json_to_recordset(:requests::json) AS r(email text, "outboxId" bigint, nonce text, "codeHash" text)
    ),
    slot AS (
      INSERT INTO pwd_reset_throttle AS t (email_key, outbox_id, sent_at, strikes, code_hash, code_expires_at, code_tries)
      SELECT lower(email), outbox_id, now(), 0, code_hash, now() + make_interval(secs => :codeSeconds::float8), 0 FROM req
      ON CONFLICT (email_key) DO UPDATE SET
        outbox_id = excluded.outbox_id,
        sent_at = now(),
        released_at = NULL,
        code_hash = excluded.code_hash,
        code_expires_at = excluded.code_expires_at,
        code_tries = 0,
        -- A retry of the same row, or a row taking a refused one's place, is no new e-mail; a quiet
        -- day starts the escalation over.
        strikes = CASE WHEN t.outbox_id = excluded.outbox_id OR t.released_at >= t.sent_at THEN t.strikes
                       WHEN t.sent_at <= now() - interval '1 day' THEN 0
                       ELSE least(t.strikes + 1, 30) END
        WHERE :cooldown <= 0
           OR t.outbox_id = excluded.outbox_id
           OR (t.outbox_id < excluded.outbox_id AND t.released_at >= t.sent_at)
           OR (t.outbox_id < excluded.outbox_id AND t.sent_at <= now() - make_interval(secs => least(:cooldown::float8 * power(2, t.strikes), greatest(:maxCooldown::float8, :cooldown::float8))))
      RETURNING t.outbox_id
    ),
    renewed AS (
      UPDATE users u SET reset_nonce = req.nonce
      FROM req JOIN slot USING (outbox_id)
      WHERE lower(u.email) = lower(req.email)
      RETURNING req.outbox_id, u.id, u.username, u.email, u.password_hash, u.reset_nonce
    )
    SELECT req.outbox_id, slot.outbox_id IS NOT NULL AS allowed,
           -- The statement's snapshot: for a row that did not get the slot, its holder.
           slot.outbox_id IS NULL AND coalesce((SELECT h.outbox_id > req.outbox_id FROM pwd_reset_throttle h
             WHERE h.email_key = lower(req.email)), false) AS superseded,
           CASE WHEN renewed.outbox_id IS NOT NULL
             THEN json_build_object('id', renewed.id, 'username', renewed.username, 'email', renewed.email,
                                    'password_hash', renewed.password_hash, 'reset_nonce', renewed.reset_nonce)
           END AS "user"
    FROM req LEFT JOIN slot USING (outbox_id) LEFT JOIN renewed USING (outbox_id)
    `,
    {
      // One JSON text rather than four arrays, which the driver builds element by element.
      requests: JSON.stringify(requests, SLOT_REQUEST_FIELDS),
      codeSeconds,
      cooldown: cooldownSeconds,
      maxCooldown: maxCooldownSeconds,
    },
  );
  const byId = new Map(
    rows.map((r) => [String(r.outbox_id), { allowed: r.allowed, superseded: r.superseded, user: r.user ?? undefined }]),
  );
  return requests.map((r) => byId.get(r.outboxId)!);
}

/**
 * Frees the slot `outboxId` holds because its e-mail was refused (SMTP down, a 4xx): nothing went
 * out, so the address's next request need not wait for this row's backoff, and takes the slot;
 * this row, older, is then superseded. Only for a failure that surely delivered nothing: a slot
 * freed after a timeout mid-DATA could let two e-mails out within the cooldown.
 */
export async function releaseResetSlot(db: Conn, email: string, outboxId: string): Promise<void> {
  await db('pwd_reset_throttle')
    .whereRaw('email_key = lower(?)', [email])
    .where({ outbox_id: outboxId })
    // The e-mail carrying the code did not go out: a code nobody received must not stay live,
    // nor come back with fresh tries on the next request (a released slot is taken at once).
    .update({ released_at: db.fn.now(), code_hash: null });
}

/** Slots whose cooldown ran out long ago are noise: housekeeping drops them, unless they hold a live code (a help desk's). */
export function pruneResetSlots(db: Conn, olderThanSeconds: number): Promise<number> {
  return db('pwd_reset_throttle')
    .where('sent_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds]))
    .where((q) => q.whereNull('code_hash').orWhere('code_expires_at', '<', db.fn.now()))
    .del();
}
