/**
 * The one-time code a reset e-mail carries beside its link: 8 digits, kept only as a keyed hash
 * (HMAC-SHA256 with the signing key), so a copy of the database holds nothing to type in. It is
 * kept in the address's slot, so a code is good for that address only; the address is not hashed
 * in, since JavaScript and PostgreSQL lower-case some letters differently (İ) and the slot is
 * found by PostgreSQL's `lower()`.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../config.ts';

export const RESET_CODE_DIGITS = 8;
/** Wrong tries a code survives; at the 5th it is dead: 5 chances in 10^8 per e-mail. */
export const RESET_CODE_MAX_TRIES = 5;

/** A fresh code, uniformly drawn from the 10^8 of 8 digits (leading zeros kept). */
export const newResetCode = () => String(randomInt(0, 10 ** RESET_CODE_DIGITS)).padStart(RESET_CODE_DIGITS, '0');

/** What a person may type: spaces and dashes (`1234 5678`, `1234-5678`) are not part of the code. */
export const normalizeResetCode = (typed: string) => typed.replace(/[\s-]/g, '');

export function resetCodeHash(key: string, code: string): string {
  return createHmac('sha256', key).update(`pwd_reset_code:${code}`).digest('base64url');
}

// Compared against when there is no stored hash, so a miss costs what a wrong code costs.
const DUMMY = resetCodeHash('dummy', '');

/**
 * Whether `typed` is the code behind `stored`, under any key that may have made it (a rotation
 * within the code's lifetime). The same work whether or not there is a stored hash: one HMAC per
 * key and one constant-time comparison each.
 */
export function resetCodeMatches(
  security: Pick<Settings['security'], 'VERIFY_KEYS'>,
  typed: string,
  stored: string | undefined,
): boolean {
  const expected = Buffer.from(stored ?? DUMMY);
  let match = false;
  for (const key of security.VERIFY_KEYS) {
    const given = Buffer.from(resetCodeHash(key, normalizeResetCode(typed)));
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  return match && stored !== undefined;
}
