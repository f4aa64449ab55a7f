/**
 * Every limit Dundie keeps (requests per client, login failures), one mechanism:
 * rate-limiter-flexible's PostgreSQL store through knex, in the `rate_limiter` table, so every
 * instance behind a balancer shares the counts. A hit is one `INSERT ... ON CONFLICT DO UPDATE
 * ... RETURNING points`: counting and reading the count are one atomic statement, so many
 * parallel requests can never all see the count below the limit (issue 13 found 140 password
 * checks pass a limit of 10 when the count was read first and written after the check).
 */
import { createHash } from 'node:crypto';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Conn, Db } from '../db/database.ts';

export const RATE_LIMIT_TABLE = 'rate_limiter';

export interface Taken {
  /** False past the limit: the caller must not do the work. */
  allowed: boolean;
  /** Hits in the current window, this one included. */
  hits: number;
  /** Seconds until the window ends (at least 1). */
  retryAfterSeconds: number;
}

/** `points` hits per `durationSeconds` per key. */
export interface Limit {
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

/**
 * The key as stored: as given while it is short and plain (an address, a username: readable for
 * an operator), else its SHA-256, so a long or odd key (a username of 150 escaped quotes, a NUL)
 * fits the table's column and counts like any other.
 */
export function storedKey(key: string): string {
  return key.length <= MAX_PLAIN_KEY && !key.includes('\u0000')
    ? key
    : `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}
const MAX_PLAIN_KEY = 128;

/** A limit named `name` (the key prefix); undefined when `points` is 0, which turns it off. */
export function createLimit(db: Db, name: string, points: number, durationSeconds: number): Limit | undefined {
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

/** Windows that ended over an hour ago: housekeeping drops them. */
export function pruneRateLimits(db: Conn): Promise<number> {
  return db(RATE_LIMIT_TABLE)
    .where('expire', '<', Date.now() - 3600_000)
    .del();
}
