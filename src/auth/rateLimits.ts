/**
 * Fixed-window counters in the `rate_limits` table, so every instance behind a balancer shares
 * them. A small table of our own rather than rate-limiter-flexible: one upsert per request (the
 * same round trip its PostgreSQL store makes), no extra dependency, and a table operators can read.
 */
import type { Conn } from '../db/database.ts';

export interface Hit {
  /** Hits in the current window, this one included. */
  hits: number;
  /** Seconds until the window ends. */
  resetInSeconds: number;
}

/** Counts one hit on `key` and returns the window's count. */
export async function hit(db: Conn, key: string, windowSeconds: number): Promise<Hit> {
  const { rows } = await db.raw(
    `
    INSERT INTO rate_limits AS r (key, window_start, hits) VALUES (?, now(), 1)
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN r.window_start <= now() - make_interval(secs => ?) THEN now() ELSE r.window_start END,
      hits = CASE WHEN r.window_start <= now() - make_interval(secs => ?) THEN 1 ELSE r.hits + 1 END
    RETURNING hits, ceil(extract(epoch FROM r.window_start + make_interval(secs => ?) - now()))::int AS reset_in
    `,
    [key, windowSeconds, windowSeconds, windowSeconds],
  );
  return { hits: rows[0].hits, resetInSeconds: Math.max(1, rows[0].reset_in) };
}

/** The current window's count without counting (for checks made before the work). */
export async function peek(db: Conn, key: string, windowSeconds: number): Promise<Hit> {
  const row = await db('rate_limits')
    .where({ key })
    .where('window_start', '>', db.raw('now() - make_interval(secs => ?)', [windowSeconds]))
    .first(
      'hits',
      db.raw('ceil(extract(epoch FROM window_start + make_interval(secs => ?) - now()))::int AS reset_in', [windowSeconds]),
    );
  return row ? { hits: row.hits, resetInSeconds: Math.max(1, row.reset_in) } : { hits: 0, resetInSeconds: 0 };
}

export async function clear(db: Conn, key: string): Promise<void> {
  await db('rate_limits').where({ key }).del();
}

/** Windows long over: housekeeping drops them. */
export function pruneRateLimits(db: Conn, olderThanSeconds: number): Promise<number> {
  return db('rate_limits').where('window_start', '<', db.raw('now() - make_interval(secs => ?)', [olderThanSeconds])).del();
}
