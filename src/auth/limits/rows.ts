/**
 * Where every limit counts: the `rate_limiter` table, one row per key in rate-limiter-flexible's
 * format (`<name>:<key>`), so the two ways of counting (`refundableLimit.ts`,
 * `batchedLimit.ts`) read and write the same rows, and housekeeping prunes them alike.
 */
import { createHash } from 'node:crypto';
import type { Conn } from '../../db/database.ts';

export const RATE_LIMIT_TABLE = 'rate_limiter';

export interface Taken {
  /** False past the limit: the caller must not do the work. */
  allowed: boolean;
  /** Hits in the current window, this one included. */
  hits: number;
  /** Seconds until the window ends (at least 1). */
  retryAfterSeconds: number;
}

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

/** Windows that ended over an hour ago: housekeeping drops them. */
export function pruneRateLimits(db: Conn): Promise<number> {
  return db(RATE_LIMIT_TABLE)
    .where('expire', '<', Date.now() - 3600_000)
    .del();
}
