/**
 * A limit for requests per client, counted in batches: the same rows, keys and window as
 * `refundableLimit.ts` (rate-limiter-flexible's, so its `refund`, `clear` and the pruning work on
 * them alike), but the hits of requests that arrive together are counted by one statement
 * (group commit): one upsert per batch, adding each key's hits at once and handing each request
 * its own count in arrival order. With one statement per request, every request from one client
 * queued on that client's row lock (docs/performance.md has the cost).
 */
import type { Db } from '../../db/database.ts';
import { runPrepared } from '../../db/preparedStatement.ts';
import { GroupCommit } from '../../db/groupCommit.ts';
import { RATE_LIMIT_TABLE, storedKey, type Taken } from './rows.ts';

export interface BatchedLimit {
  readonly points: number;
  readonly durationSeconds: number;
  /** Counts a hit for `key`; past `deadline` (epoch ms) it fails with `DeadlineExceeded`, uncounted if still queued. */
  take(key: string, options?: { deadline?: number }): Promise<Taken>;
  /** The key's row in the table, for a statement that counts hits itself (`countHitsSql`). */
  rowKey(key: string): string;
}

/**
 * The upsert that adds a batch's hits, for a statement to embed: `source` names a relation with
 * a `key` column of row keys (`rowKey`), which may repeat. Its bindings, in order: the window's
 * end for a new window, then now twice (epoch ms). Returns each key's points and expire. Rows
 * are locked in key order, so two instances' batches over the same keys queue instead of deadlocking.
 */
export function countHitsSql(source: string): string {
  return `
      INSERT INTO ${RATE_LIMIT_TABLE} AS t (key, points, expire)
      SELECT key, count(*)::int, ?::bigint FROM ${source} GROUP BY key ORDER BY key
      ON CONFLICT (key) DO UPDATE SET
        points = CASE WHEN t.expire <= ?::bigint THEN excluded.points ELSE t.points + excluded.points END,
        expire = CASE WHEN t.expire <= ?::bigint THEN excluded.expire ELSE t.expire END
      RETURNING key, points, expire`;
}

/** The bindings of `countHitsSql` for a window of `durationMs`. */
export function countHitsBindings(durationMs: number): [number, number, number] {
  const now = Date.now();
  return [now + durationMs, now, now];
}

/** Seconds until a window that ends at `expire` (epoch ms) is over; at least 1. */
export const secondsUntil = (expire: number) => Math.max(1, Math.ceil((expire - Date.now()) / 1000));

interface Count {
  /** Hits in the window once the batch is counted, for the key. */
  points: number;
  expire: number;
}

/** Adds the batch's hits (keys may repeat) in one statement; the window restarts when it has ended. */
async function countHits(db: Db, keys: readonly string[], durationMs: number): Promise<Map<string, Count>> {
  const rows = await runPrepared<{ key: string; points: number; expire: string }>(
    db,
    'rate_limiter_count_hits',
    `WITH k AS (SELECT unnest(?::text[]) AS key) ${countHitsSql('k')}`,
    [keys, ...countHitsBindings(durationMs)],
  );
  return new Map(rows.map((r) => [r.key, { points: r.points, expire: Number(r.expire) }]));
}

/**
 * `points` requests per `durationSeconds` per key, under the name `name`; undefined when `points`
 * is 0 (off). Built once per name (`createLimits`): two on one name would each send their own
 * statement, and their batches would queue on the same rows' locks.
 */
export function createBatchedLimit(
  db: Db,
  name: string,
  points: number,
  durationSeconds: number,
): BatchedLimit | undefined {
  if (points <= 0) return undefined;
  const durationMs = durationSeconds * 1000;
  const hits = new GroupCommit<string, { nth: number; expire: number }>(
    async (keys) => {
      const counts = await countHits(db, keys, durationMs);
      // Each key starts at its count after the batch and steps down once per hit in it, landing on
      // its first hit in this batch; the hits are then handed out upward, in arrival order.
      const next = new Map<string, number>();
      for (const key of keys) next.set(key, (next.get(key) ?? counts.get(key)!.points + 1) - 1);
      return keys.map((key) => {
        const nth = next.get(key)!;
        next.set(key, nth + 1);
        return { nth, expire: counts.get(key)!.expire };
      });
    },
    // A key the table refuses (longer than its 255 characters: an odd forwarded address) fails
    // its own request, not the batch: the batch is split until it does.
    { maxInFlight: 1, maxQueued: 4096, bisect: true },
  );
  // The key as rate-limiter-flexible writes it: `<keyPrefix>:<key>`.
  const rowKey = (key: string) => `${name}:${storedKey(key)}`;
  return {
    points,
    durationSeconds,
    rowKey,
    async take(key, { deadline } = {}) {
      const { nth, expire } = await hits.add(rowKey(key), { deadline });
      return { allowed: nth <= points, hits: nth, retryAfterSeconds: secondsUntil(expire) };
    },
  };
}
