/**
 * Whose reset link this is, checked the way `POST /user/{username}/password/` checks it
 * (signature, expiry, scope, and the fingerprint of the password and nonce it was issued
 * against), without using it up: only a password change does that. And whether the person on
 * the page knows the address the link was sent to (link fixation, below).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { pwdResetClaims, resetOpens } from '../auth/tokens.ts';
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { findUserByUsername, type UserRow } from '../users/queries.ts';

export async function userOfResetLink(
  db: Db,
  config: Settings,
  token: string | undefined,
): Promise<UserRow | undefined> {
  const claims = token ? pwdResetClaims(config.security, token) : undefined;
  if (!claims) return undefined;
  const user = await findUserByUsername(db, claims.sub);
  return user && resetOpens(config.security, claims, user) ? user : undefined;
}

/**
 * Whether `typed` is the address the link was e-mailed to (the account's, case and surrounding
 * blanks aside). The page asks for it before it changes a password, so a link that someone sent
 * to a victim for the sender's own account (link fixation, OWASP's Forgot Password cheat sheet)
 * stops at a question the victim cannot answer. Compared as digests in constant time, so how
 * long the answer takes says nothing about how much of the address was right.
 */
export function isAddressOfLink(user: Pick<UserRow, 'email'>, typed: string): boolean {
  const digest = (address: string) => createHash('sha256').update(address.trim().toLowerCase()).digest();
  return timingSafeEqual(digest(user.email), digest(typed));
}
