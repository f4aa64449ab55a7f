/**
 * SQL of the reset code kept in an address's `pwd_reset_throttle` slot (`resetThrottle.ts` writes it
 * with the slot): counting a guess, using the code up, dropping it when the password changes.
 */
import type { Conn } from '../db/database.ts';
import type { ResetUser } from './resetThrottle.ts';

/**
 * Counts one try at the address's live code and returns its hash, or undefined when there is no
 * code to try (none, expired, used, or `maxTries` already spent). One UPDATE, before any
 * comparison: parallel guesses queue on the row lock, so no more than `maxTries` of them ever see
 * the hash. The cost is the same for an address with no account: the dispatcher gives its slot a
 * code too.
 */
export async function countResetCodeTry(db: Conn, email: string, maxTries: number): Promise<string | undefined> {
  const [row] = await db('pwd_reset_throttle')
    .whereRaw('email_key = lower(?)', [email])
    .whereNotNull('code_hash')
    .where('code_expires_at', '>', db.fn.now())
    .where('code_tries', '<', maxTries)
    .increment('code_tries', 1)
    .returning<{ code_hash: string }[]>('code_hash');
  return row?.code_hash;
}

/**
 * Uses the code whose hash is `hash` up and renews the reset nonce of the user with the address
 * to `nonce`, in one statement: the link of the same e-mail (bound to the old nonce) dies with the
 * code, and only the token made for the new nonce opens the account. Undefined when the code was
 * used, replaced or dropped meanwhile (a race lost), or no user has the address.
 */
export async function useResetCode(
  db: Conn,
  email: string,
  hash: string,
  nonce: string,
): Promise<ResetUser | undefined> {
  const { rows } = await db.raw<{ rows: ResetUser[] }>(
    `
    WITH used AS (
      UPDATE pwd_reset_throttle SET code_hash = NULL
      WHERE email_key = lower(:email) AND code_hash = :hash
      RETURNING email_key
    )
    UPDATE users u SET reset_nonce = :nonce
    FROM used WHERE lower(u.email) = used.email_key
    RETURNING u.username, u.email, u.password_hash, u.reset_nonce
    `,
    { email, hash, nonce },
  );
  return rows[0];
}

/** A password change ends the code of the last e-mail, as it ends that e-mail's link. */
export async function dropResetCode(db: Conn, email: string): Promise<void> {
  await db('pwd_reset_throttle').whereRaw('email_key = lower(?)', [email]).update({ code_hash: null });
}

/**
 * Gives the address's slot a new code (fresh tries, `seconds` to live) and the user with the
 * address a new reset nonce, in one statement, without touching the slot's cooldown: a code and
 * link made for a help desk, no e-mail. A slot is made for an address that has none (its
 * `outbox_id` 0, older than any row, so the next request takes it). Undefined when no user has
 * the address (the slot is left as it was).
 */
export async function setResetCodeAndRenewNonce(
  db: Conn,
  email: string,
  hash: string,
  nonce: string,
  seconds: number,
): Promise<ResetUser | undefined> {
  const { rows } = await db.raw<{ rows: ResetUser[] }>(
    `
    WITH renewed AS (
      UPDATE users u SET reset_nonce = :nonce
      WHERE lower(u.email) = lower(:email)
      RETURNING u.username, u.email, u.password_hash, u.reset_nonce
    ),
    slot AS (
      INSERT INTO pwd_reset_throttle AS t (email_key, outbox_id, sent_at, released_at, code_hash, code_expires_at, code_tries)
      SELECT lower(:email), 0, '-infinity', 'infinity', :hash, now() + make_interval(secs => :seconds::float8), 0
      FROM renewed
      ON CONFLICT (email_key) DO UPDATE SET
        code_hash = excluded.code_hash, code_expires_at = excluded.code_expires_at, code_tries = 0
    )
    SELECT * FROM renewed
    `,
    { email, hash, nonce, seconds },
  );
  return rows[0];
}
