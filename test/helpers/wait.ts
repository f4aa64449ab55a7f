/** Waiting on a condition instead of sleeping for a guessed time. */
import type { Db } from '../../src/db/database.ts';

/** Resolves once `condition()` is true; fails after `timeoutMs` saying what it waited for. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True once some connection to this database has LISTENed for the outbox, the LISTEN committed (a dispatcher is awake). */
export async function outboxListened(db: Db): Promise<boolean> {
  const { rows } = await db.raw<{ rows: unknown[] }>(
    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN outbox' AND state = 'idle'",
  );
  return rows.length > 0;
}

export async function countByStatus(db: Db, status: string): Promise<number> {
  const [row] = await db('outbox').where({ status }).count<{ count: string }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}
