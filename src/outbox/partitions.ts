/**
 * The day partitions of `outbox_done`, where finished rows (`sent`, `skipped`) live by
 * `processed_at` (the layout is migration 20261205000002's): made a few days ahead, dropped whole
 * once past retention, so retention costs no DELETE, no dead rows and no vacuum. Rows of a day
 * that has no partition land in `outbox_done_default` and are deleted by age, in small batches.
 *
 * DDL here is brief but takes locks that finishing a row waits for (DROP TABLE an ACCESS EXCLUSIVE
 * on `outbox_done`), so each step runs in a transaction of its own with a lock_timeout of 100 ms
 * and, if it cannot have its lock by then (a long read of the finished rows holds it), is left
 * for the next run, and so are the drops after it: finishes wait at most that long per run.
 * Housekeepers on several replicas take turns through a transaction-level advisory lock (which
 * holds through a transaction pooler). Time is the database's, never the host's.
 */
import type { Knex } from 'knex';
import type { Conn } from '../db/database.ts';

const DAY_MS = 86_400_000;
/** Partitions are made for today and this many days after it. */
export const DAYS_AHEAD = 3;
const LOCK_TIMEOUT = '100ms';
/** `pg_try_advisory_xact_lock` key of partition maintenance (any constant; this one says "outbox"). */
const ADVISORY_KEY = 0x6f7574626f78;

export interface DonePartition {
  name: string;
  /** null: MINVALUE (the rows from before partitioning), or the default partition. */
  from: Date | null;
  /** null only for the default partition. */
  to: Date | null;
  isDefault: boolean;
}

export interface Maintenance {
  made: string[];
  dropped: string[];
  /** Steps left for the next run: their lock was not to be had at once, or another replica was at it. */
  deferred: string[];
  /** Rows deleted from the default partition. */
  deleted: number;
}

const dayStart = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
const partitionName = (day: Date) => `outbox_done_${day.toISOString().slice(0, 10).replaceAll('-', '')}`;

export async function donePartitions(db: Conn): Promise<DonePartition[]> {
  const { rows } = await db.raw<{ rows: DonePartition[] }>(`
    SELECT c.relname AS name,
           b.bound = 'DEFAULT' AS "isDefault",
           (regexp_match(b.bound, 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS "from",
           (regexp_match(b.bound, 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS "to"
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
    WHERE i.inhparent = 'outbox_done'::regclass
    ORDER BY "to" NULLS LAST
  `);
  return rows;
}

/**
 * Runs `step` in a transaction of its own holding the maintenance lock, with a short lock
 * timeout; false if it was left for the next run (lock not to be had, or another housekeeper).
 */
async function briefly(db: Conn, step: (trx: Knex.Transaction) => Promise<void>): Promise<boolean> {
  try {
    return await db.transaction(async (trx) => {
      await trx.raw(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const {
        rows: [lock],
      } = await trx.raw<{ rows: { ok: boolean }[] }>('SELECT pg_try_advisory_xact_lock(?) AS ok', [ADVISORY_KEY]);
      if (!lock!.ok) return false;
      await step(trx);
      return true;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return false;
    throw err;
  }
}

/** A row this statement was about to delete or lock was moved to another partition under it. */
const movedUnder = (err: unknown) =>
  (err as { code?: string }).code === '40001' && /moved to another partition/.test((err as Error).message);

/**
 * Makes the partitions of `at`'s day and DAYS_AHEAD days after it (UTC days; a day whose rows are
 * already in the default partition is left there), drops those whose every row was processed
 * more than `retentionDays` before `at`, and deletes the default partition's rows that old.
 * `at` is the database's clock unless given (tests pass one to see days go by).
 */
export async function maintainPartitions(
  db: Conn,
  { retentionDays, at: given, batch = 500 }: { retentionDays: number; at?: Date; batch?: number },
): Promise<Maintenance> {
  const at = given ?? (await db.raw<{ rows: { now: Date }[] }>('SELECT now() AS now')).rows[0]!.now;
  const result: Maintenance = { made: [], dropped: [], deferred: [], deleted: 0 };
  const cutoff = new Date(at.getTime() - retentionDays * DAY_MS);
  const partitions = await donePartitions(db);

  const covered = (list: DonePartition[], from: Date, to: Date) =>
    list.some((p) => !p.isDefault && (p.from === null || p.from < to) && p.to! > from);
  for (let i = 0; i <= DAYS_AHEAD; i++) {
    const from = new Date(dayStart(at).getTime() + i * DAY_MS);
    const to = new Date(from.getTime() + DAY_MS);
    if (covered(partitions, from, to)) continue;
    const name = partitionName(from);
    const done = await briefly(db, async (trx) => {
      // Another housekeeper may have made it since the list was read.
      if (covered(await donePartitions(trx), from, to)) return;
      const {
        rows: [held],
      } = await trx.raw<{ rows: { any: boolean }[] }>(
        'SELECT EXISTS (SELECT 1 FROM outbox_done_default WHERE processed_at >= ? AND processed_at < ?) AS any',
        [from, to],
      );
      if (held!.any) return;
      // Made apart and attached, so the parent is locked only SHARE UPDATE EXCLUSIVE (finishes go on).
      await trx.raw('CREATE TABLE ?? (LIKE outbox_done INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', [name]);
      await trx.raw('ALTER TABLE ?? ADD PRIMARY KEY (id)', [name]);
      // DDL takes no parameters: the bounds are written out (ISO timestamps of our own making).
      await trx.raw(
        `ALTER TABLE outbox_done ATTACH PARTITION ?? FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
        [name],
      );
      result.made.push(name);
    });
    if (!done) result.deferred.push(`make ${name}`);
  }

  for (const p of partitions) {
    if (p.isDefault || p.to! > cutoff) continue;
    const done = await briefly(db, async (trx) => {
      await trx.raw('DROP TABLE IF EXISTS ??', [p.name]);
      result.dropped.push(p.name);
    });
    if (!done) {
      // The lock is held by something longer than a step: the other drops would wait on it too.
      result.deferred.push(`drop ${p.name}`);
      break;
    }
  }

  for (;;) {
    let rowCount: number | null;
    try {
      ({ rowCount } = await db.raw(
        `
        DELETE FROM outbox_done_default WHERE id IN (
          SELECT id FROM outbox_done_default WHERE processed_at < ? ORDER BY processed_at LIMIT ?
        )
        `,
        [cutoff, batch],
      ));
    } catch (err) {
      // An operator put one of these rows back in line as it was being deleted: the rest next run.
      if (!movedUnder(err)) throw err;
      result.deferred.push('delete from outbox_done_default');
      return result;
    }
    result.deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return result;
  }
}
