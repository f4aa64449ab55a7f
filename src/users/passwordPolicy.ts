/**
 * The rules every new password meets, wherever it is set (API, reset, CLI): long enough, not
 * absurdly long (scrypt's cost grows with the input), not the account's own name or address,
 * and not one of the 10,000 most common passwords.
 */
import { PolicyViolation } from '../errors.ts';
import commonPasswords from './common-passwords.json' with { type: 'json' };

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

const common = new Set(commonPasswords.passwords);
/** What anyone guessing a Dunder Mifflin password tries first, beside the common list. */
const ownWords = new Set(['dundermifflin', 'dunder-mifflin', 'dunder mifflin', 'dundie', 'dundies', 'scranton']);

/**
 * On the list, or a listed word with digits and symbols tacked on (`password123`, `dragon!!`):
 * most of the list is shorter than the minimum length, and that is how people lengthen it.
 * Blank passwords are as guessable.
 */
function isCommon(lower: string): boolean {
  if (lower.trim() === '') return true;
  const core = lower.replace(/^[\d\W_]+|[\d\W_]+$/gu, '');
  return [lower, core].some((word) => common.has(word) || ownWords.has(word));
}

/** The first rule a password breaks, as a sentence, or undefined when it keeps them all. */
export function passwordProblem(
  password: string,
  owner: { username?: string; email?: string } = {},
): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Password must be at least ${PASSWORD_MIN_LENGTH} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  const lower = password.toLowerCase();
  if (owner.username && lower === owner.username.toLowerCase()) return 'Password must not be the username';
  if (owner.email && (lower === owner.email.toLowerCase() || lower === owner.email.split('@')[0]!.toLowerCase())) {
    return 'Password must not be the e-mail address';
  }
  if (isCommon(lower)) return 'Password is too common: it is one of the 10,000 most used passwords';
  return undefined;
}

export function assertPasswordAllowed(password: string, owner: { username?: string; email?: string } = {}): void {
  const problem = passwordProblem(password, owner);
  if (problem) throw new PolicyViolation('password', problem);
}
