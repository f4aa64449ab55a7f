/**
 * SQL of `email_suppressions`: the addresses a recipient's final refusal put there, which the
 * dispatcher no longer mails, and what an operator reads and removes.
 */
import type { Conn } from '../db/database.ts';

export interface Suppression {
  address: string;
  reason: string;
  refusals: number;
  first_seen: Date;
  last_seen: Date;
}

const key = (address: string) => address.trim().toLowerCase();

/** Adds `address` (or counts one more refusal of it, keeping the newest reason). */
export async function suppress(db: Conn, address: string, reason: string): Promise<void> {
  await db.raw(
    `
    INSERT INTO email_suppressions AS s (address, reason) VALUES (?, ?)
    ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, refusals = s.refusals + 1, last_seen = now()
    `,
    [key(address), reason.slice(0, 2000)],
  );
}

/** Which of `addresses` are suppressed, in one statement for a batch of sends. */
export async function suppressedAmong(db: Conn, addresses: readonly string[]): Promise<boolean[]> {
  const keys = addresses.map(key);
  const { rows } = await db.raw<{ rows: { address: string }[] }>(
    'SELECT address FROM email_suppressions WHERE address = ANY(?::text[])',
    [keys],
  );
  const found = new Set(rows.map((r) => r.address));
  return keys.map((k) => found.has(k));
}

export function listSuppressions(db: Conn, limit: number): Promise<Suppression[]> {
  return db<Suppression>('email_suppressions').orderBy('last_seen', 'desc').limit(limit);
}

/** Whether there was such an address to remove. */
export async function unsuppress(db: Conn, address: string): Promise<boolean> {
  return (
    (await db('email_suppressions')
      .where({ address: key(address) })
      .del()) > 0
  );
}

export async function countSuppressions(db: Conn): Promise<number> {
  const row = await db('email_suppressions').count<{ n: string }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
