/**
 * A limit whose hits can be given back or cleared (the login failures: a right password clears
 * its client's count): rate-limiter-flexible's PostgreSQL store through knex, in the
 * `rate_limiter` table, so every instance behind a balancer shares the counts. A hit is one
 * `INSERT ... ON CONFLICT DO UPDATE ... RETURNING points`: counting and reading the count are one
 * atomic statement, so many parallel requests can never all see the count below the limit, as
 * they do when the count is read first and written after the check (docs/security.md, "Password
 * guessing").
 */
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../../db/database.ts';
import { RATE_LIMIT_TABLE, storedKey, type Taken } from './rows.ts';

/** `points` hits per `durationSeconds` per key. */
export interface RefundableLimit {
  readonly points: number;
  take(key: string): Promise<Taken>;
  /** Gives one hit back (an attempt that turned out not to count). */
  refund(key: string): Promise<void>;
  clear(key: string): Promise<void>;
}

const taken = (res: RateLimiterRes, allowed: boolean): Taken => ({
  allowed,
  hits: res.consumedPoints,
  retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
});

/** A limit named `name` (the key prefix); undefined when `points` is 0, which turns it off. */
export function createRefundableLimit(
  db: Db,
  name: string,
  points: number,
  durationSeconds: number,
): RefundableLimit | undefined {
  if (points <= 0) return undefined;
  const limiter = new RateLimiterPostgres({
    storeClient: db,
    storeType: 'knex',
    tableName: RATE_LIMIT_TABLE,
    // The migration made it; housekeeping prunes it (no timers of the library's own).
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: name,
    points,
    duration: durationSeconds,
  });
  return {
    points,
    async take(key) {
      try {
        return taken(await limiter.consume(storedKey(key)), true);
      } catch (err) {
        // Past the limit the library rejects with the count; anything else is the store failing.
        if (err instanceof RateLimiterRes) return taken(err, false);
        throw err;
      }
    },
    async refund(key) {
      await limiter.reward(storedKey(key), 1);
    },
    async clear(key) {
      await limiter.delete(storedKey(key));
    },
  };
}
