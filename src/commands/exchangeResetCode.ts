/**
 * "I have the code from the e-mail": trades an address and its one-time code for the reset token
 * the e-mail's link carries, so the rest of the flow (the API's password route, the page that
 * chooses a password) is the link's. Every failure is the same `undefined`, and costs the same:
 * one counting UPDATE, one HMAC per key, one constant-time comparison.
 */
import { RESET_CODE_MAX_TRIES, resetCodeMatches } from '../auth/resetCodes.ts';
import { createPwdResetToken, newResetNonce } from '../auth/tokens.ts';
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { countResetCodeTry, useResetCode } from '../users/resetCodes.ts';

/** The one answer to a failed exchange, whatever failed (SPEC-level: it tells nothing about the address). */
export const RESET_CODE_REFUSED = 'Invalid or expired code';

export async function exchangeResetCode(
  db: Conn,
  config: Settings,
  email: string,
  code: string,
): Promise<{ pwd_reset_token: string; username: string } | undefined> {
  // Counted first, so a wrong guess is spent even if the comparison never finishes.
  const stored = await countResetCodeTry(db, email, RESET_CODE_MAX_TRIES);
  if (!resetCodeMatches(config.security, code, stored)) return undefined;
  // A new nonce: the e-mail's link dies with its code, and the token below is the one that opens.
  const user = await useResetCode(db, email, stored!, newResetNonce());
  if (!user) return undefined;
  return { pwd_reset_token: createPwdResetToken(config.security, user, 'code'), username: user.username };
}
