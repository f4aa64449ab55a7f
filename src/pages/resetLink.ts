/**
 * Whose reset link this is, checked the way `POST /user/{username}/password/` checks it
 * (signature, expiry, scope, and the fingerprint of the password and nonce it was issued
 * against), without using it up: only a password change does that.
 */
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
