/**
 * Every limit Dundie keeps, named for what it counts. The app builds them once (`createLimits`)
 * and hands the same ones to the API and the pages: a client has one budget whichever way it
 * asks, and each key has one group-commit batcher in the process. All of them count in the
 * `rate_limiter` table (`limits/rows.ts`), so every instance behind a balancer shares the counts.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { createBatchedLimit, type BatchedLimit } from './limits/batchedLimit.ts';
import { createLoginThrottle, type LoginThrottle } from './limits/loginFailures.ts';

export type { BatchedLimit } from './limits/batchedLimit.ts';
export { withLoginAttempt, type LoginAttempter, type LoginThrottle } from './limits/loginFailures.ts';
export { pruneRateLimits, type Taken } from './limits/rows.ts';

export interface Limits {
  /** Reset e-mails asked for (the API's `POST /user/pwd_reset_token/`, the pages' e-mail form), per client a minute. */
  resetRequestsPerClient?: BatchedLimit;
  /** Reset codes tried (the API's `POST /user/pwd_reset_code/`, the pages' code form), per client a minute. */
  resetCodesPerClient?: BatchedLimit;
  /** Logins asked for (`POST /token`), right or wrong, per client a minute. */
  loginsPerClient?: BatchedLimit;
  /**
   * Passwords checked and not yet found right (a login, the `current_password` of a password
   * change), per username and client and per username (`limits/loginFailures.ts`).
   */
  loginFailures: LoginThrottle;
}

/** The app's limits; a per-client limit set to 0 is off (undefined). */
export function createLimits(db: Db, security: Settings['security']): Limits {
  const perClientMinute = (name: string, points: number) => createBatchedLimit(db, name, points, 60);
  return {
    resetRequestsPerClient: perClientMinute('pwd-reset', security.RATE_LIMIT_PWD_RESET_PER_MINUTE),
    // Their own counter at the reset rate: guessing codes spends no reset requests, and the reverse.
    resetCodesPerClient: perClientMinute('pwd-reset-code', security.RATE_LIMIT_PWD_RESET_PER_MINUTE),
    loginsPerClient: perClientMinute('login', security.RATE_LIMIT_LOGIN_PER_MINUTE),
    loginFailures: createLoginThrottle(db, security),
  };
}
