/**
 * The errors the domain and the commands throw: plain classes that say what went wrong in a
 * sentence a person can read, and nothing about HTTP. `web/errorMapping.ts` maps each to a
 * status; the CLI prints the sentence.
 */

/** Something named does not exist (a user, a row). */
export class NotFound extends Error {
  override name = 'NotFound';
}

/** The request clashes with what is stored (a taken username or e-mail). */
export class Conflict extends Error {
  override name = 'Conflict';
}

/** The caller may not do this. */
export class NotAllowed extends Error {
  override name = 'NotAllowed';
}

/** A value breaks a rule (the password policy); `field` names the input it concerns. */
export class PolicyViolation extends Error {
  override name = 'PolicyViolation';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export const USER_NOT_FOUND = 'User not found';

/** Too many tries of something limited (login failures); `retryAfterSeconds` says when to try again. */
export class TooManyAttempts extends Error {
  override name = 'TooManyAttempts';
  constructor(readonly retryAfterSeconds: number) {
    super('Too many requests, try again later');
  }
}

/** Too much work in progress to take this on now (password hashes); try again in `retryAfterSeconds`. */
export class Overloaded extends Error {
  override name = 'Overloaded';
  constructor(readonly retryAfterSeconds: number) {
    super('The server is busy, try again shortly');
  }
}
