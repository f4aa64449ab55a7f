/**
 * Whose reset link this is, checked the way `POST /user/{username}/password/` checks it
 * (signature, expiry, scope, and the fingerprint of the password and nonce it was issued
 * against), without using it up: only a password change does that.
 */
import { fingerprintMatches, InvalidToken, verifyToken } from '../auth/tokens.ts';
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { findUserByUsername, type UserRow } from '../users/queries.ts';

export async function userOfResetLink(
  db: Db,
  config: Settings,
  token: string | undefined,
): Promise<UserRow | undefined> {
  if (!token) return undefined;
  try {
    const claims = verifyToken(config.security, token, 'pwd_reset');
    const user = await findUserByUsername(db, claims.sub);
    return user && fingerprintMatches(config.security, claims, user) ? user : undefined;
  } catch (err) {
    if (err instanceof InvalidToken) return undefined;
    throw err;
  }
}
