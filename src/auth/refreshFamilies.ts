/**
 * SQL of `refresh_token_families`: refresh token rotation with reuse detection (OAuth 2.0
 * Security BCP). `POST /token` starts a family; every refresh token names its family and a
 * one-time `jti`, and only the family's current one is good. Spending it and naming the next
 * one is one conditional UPDATE, so two requests racing with one token cannot both win. A token
 * presented again after it was spent was copied: the whole family is revoked, the thief's copy
 * and the owner's alike, and the access tokens it issued stop working too.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Conn } from '../db/database.ts';

export interface FamilyLink {
  fam: string;
  jti: string;
}

export type Rotation = { ok: true; next: FamilyLink } | { ok: false; reuse: boolean };

const newJti = () => randomBytes(16).toString('base64url');

/** A new family for a user who just logged in; its first link. */
export async function startFamily(db: Conn, userId: number): Promise<FamilyLink> {
  const link = { fam: randomUUID(), jti: newJti() };
  await db('refresh_token_families').insert({ family: link.fam, user_id: userId, current_jti: link.jti });
  return link;
}

/**
 * Spends `link` and returns the family's next one; or, for a spent link of a live family, revokes
 * the family (`reuse: true`), running `onRevoke` in the revocation's transaction (its security
 * event). Unknown and revoked families get `reuse: false`. A good rotation opens no transaction.
 */
export async function rotate(
  db: Conn,
  link: FamilyLink,
  userId: number,
  onRevoke?: (trx: Conn) => Promise<void>,
): Promise<Rotation> {
  const next = { fam: link.fam, jti: newJti() };
  const spent = await db('refresh_token_families')
    .where({ family: link.fam, current_jti: link.jti, user_id: userId })
    .whereNull('revoked_at')
    .update({ current_jti: next.jti, updated_at: db.fn.now() });
  if (spent === 1) return { ok: true, next };
  const revoked = await db.transaction(async (trx) => {
    const n = await trx('refresh_token_families')
      .where({ family: link.fam })
      .whereNull('revoked_at')
      .update({ revoked_at: trx.fn.now(), updated_at: trx.fn.now() });
    if (n === 1) await onRevoke?.(trx);
    return n;
  });
  return { ok: false, reuse: revoked === 1 };
}

/** False once the family was revoked (a token without a family has none to check). */
export async function familyIsLive(db: Conn, fam: string | undefined): Promise<boolean> {
  if (fam === undefined) return true;
  const row = await db('refresh_token_families').where({ family: fam }).first('revoked_at');
  return row !== undefined && row.revoked_at === null;
}

/** Families with no token that could still be valid: housekeeping drops them. */
export function pruneFamilies(db: Conn, olderThanSeconds: number): Promise<number> {
  return db('refresh_token_families')
    .where('updated_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds]))
    .del();
}
