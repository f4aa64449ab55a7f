/** What every command shares: usage errors, a migrated database for the command's span, tables. */
import type { Settings } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { migrateLatest } from '../db/migrations.ts';
import type { Logger } from '../log.ts';

/** A command given the wrong words: printed with exit code 2. */
export class UsageError extends Error {}

export type Command = (args: string[], config: Settings, log: Logger) => Promise<void>;

export type Context = { config: Settings; log: Logger; database: Database };

export async function withDatabase<T>(config: Settings, log: Logger, work: (ctx: Context) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, log);
  try {
    await migrateLatest(database.db);
    return await work({ config, log, database });
  } finally {
    await database.close();
  }
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
    return JSON.stringify(v) ?? '';
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}
