/**
 * The rules every new password meets, wherever it is set (API, reset, CLI). Length is capped
 * because scrypt's cost grows with the input and a megabyte "password" is a cheap attack.
 */
import { validationFailed } from '../errors.ts';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

/** The first rule a password breaks, as a sentence, or undefined when it keeps them all. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `Password must be at least ${PASSWORD_MIN_LENGTH} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  return undefined;
}

export function assertPasswordAllowed(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw validationFailed([{ loc: ['body', 'password'], msg: problem, type: 'value_error' }]);
}
