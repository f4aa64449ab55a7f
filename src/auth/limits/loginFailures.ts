/**
 * Password guessing, limited without handing an attacker a lockout button.
 *
 * Each login attempt is counted before its password is checked, atomically (`refundableLimit.ts`),
 * so parallel guesses cannot slip past the count; past a limit the check is not made at all.
 * - Per username *and* client address (`LOGIN_FAILURES_PER_CLIENT_AND_USERNAME`, 10): the limit
 *   a guesser meets. An attacker elsewhere exhausts only their own budget, not the real user's.
 * - Per username across all clients (`LOGIN_FAILURES_PER_USERNAME`, 100): a looser ceiling
 *   against guessing one account from many addresses. Reaching it does refuse the real user
 *   too until the window ends: the price of bounding distributed guessing, paid only by an
 *   attacker who controls ten or more addresses.
 * - A progressive delay: the n-th attempt by one client on one username waits
 *   `LOGIN_FAILURE_DELAY_MS * 2^(n-2)` (capped at 8 s) before its check, so guessing slows
 *   long before any limit refuses.
 * - A browser that logged in to the account before (a device cookie, `../deviceCookies.ts`) is
 *   counted on its own budget (`LOGIN_FAILURES_PER_CLIENT_AND_USERNAME` per device) and never
 *   meets the per-username ceiling: strangers spending the ceiling lock out only other strangers
 *   and the owner's new devices, not the owner's known ones.
 * A successful login clears its client's count and gives its point back to the username.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Settings } from '../../config.ts';
import type { Db } from '../../db/database.ts';
import { TooManyAttempts } from '../../errors.ts';
import { createRefundableLimit } from './refundableLimit.ts';

const MAX_DELAY_MS = 8000;

export interface LoginAttempt {
  /** The password was right: the client's count is cleared, the username's point given back. */
  succeeded(): Promise<void>;
  /** The check never ran (the hash queue was full): both points are given back. */
  cancelled(): Promise<void>;
}

/** Whose password is being checked, and from where. */
export interface LoginAttempter {
  username: string;
  client: string;
  /** The id of a device cookie signed for this username, if the request carried one. */
  device?: string;
}

export interface LoginThrottle {
  /** Counts an attempt, or throws TooManyAttempts past a limit; waits out the progressive delay. */
  begin(who: LoginAttempter): Promise<LoginAttempt>;
}

export function createLoginThrottle(db: Db, security: Settings['security']): LoginThrottle {
  const window = security.LOGIN_FAILURE_WINDOW_SECONDS;
  const perPair = createRefundableLimit(
    db,
    'login-failures-client',
    security.LOGIN_FAILURES_PER_CLIENT_AND_USERNAME,
    window,
  );
  const perName = createRefundableLimit(db, 'login-failures', security.LOGIN_FAILURES_PER_USERNAME, window);
  return {
    async begin({ username, client, device }) {
      const name = username.toLowerCase();
      // JSON keeps the two apart whatever characters a username holds.
      const pair = JSON.stringify(device ? [name, { device }] : [name, client]);
      const byPair = await perPair?.take(pair);
      if (byPair && !byPair.allowed) throw new TooManyAttempts(byPair.retryAfterSeconds);
      const byName = device ? undefined : await perName?.take(name);
      if (byName && !byName.allowed) {
        await perPair?.refund(pair);
        throw new TooManyAttempts(byName.retryAfterSeconds);
      }
      const earlier = (byPair?.hits ?? 1) - 1;
      if (earlier > 0 && security.LOGIN_FAILURE_DELAY_MS > 0) {
        await sleep(Math.min(security.LOGIN_FAILURE_DELAY_MS * 2 ** (earlier - 1), MAX_DELAY_MS));
      }
      return {
        async succeeded() {
          await Promise.all([perPair?.clear(pair), byName && perName?.refund(name)]);
        },
        async cancelled() {
          await Promise.all([perPair?.refund(pair), byName && perName?.refund(name)]);
        },
      };
    },
  };
}

/**
 * A password check under the throttle: counted first (TooManyAttempts past a limit, and the check
 * is not made), then `check` runs. A truthy result is a right password (the counts are eased); a
 * falsy one a wrong password, which stays counted; a throw means the check never ran, so the
 * attempt is given back.
 */
export async function withLoginAttempt<T>(
  throttle: LoginThrottle,
  who: LoginAttempter,
  check: () => Promise<T>,
): Promise<T> {
  const attempt = await throttle.begin(who);
  const result = await check().catch(async (err: unknown) => {
    await attempt.cancelled();
    throw err;
  });
  if (result) await attempt.succeeded();
  return result;
}
