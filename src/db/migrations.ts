/**
 * The migrations in `../migrations`, named without their extension: the source tree runs the
 * `.ts` files and `dist/` the compiled `.js` ones, and both must agree on what a database has
 * already applied (knex's own file source records `x.ts` from one and refuses it from the other).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knex, { type Knex } from 'knex';
import { constant } from '../delays.ts';
import { retrying } from '../retrying.ts';

const directory = fileURLToPath(new URL('../../migrations', import.meta.url));
const MIGRATION_FILE = /^(\d+_\w+)\.(ts|js)$/;

export const MIGRATIONS_TABLE = 'knex_migrations';

export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return (await readdir(directory)).filter((file) => MIGRATION_FILE.test(file)).sort();
  },
  getMigrationName: (file) => MIGRATION_FILE.exec(file)![1]!,
  getMigration: (file) => import(pathToFileURL(path.join(directory, file)).href),
};

/** Databases migrated before names lost their extension recorded `x.ts` or `x.js`: rename them. */
export async function renameOldMigrationRecords(db: Knex): Promise<void> {
  if (!(await db.schema.hasTable(MIGRATIONS_TABLE))) return;
  await db(MIGRATIONS_TABLE)
    .whereRaw("name ~ '\\.(ts|js)$'")
    .update({ name: db.raw("regexp_replace(name, '\\.(ts|js)$', '')") });
}

/**
 * A release also starts against a database a newer release has already migrated (a rolling
 * deploy: migrations only expand, so the older code's statements still hold); knex would refuse,
 * naming the migrations it does not have.
 */
export const migrationConfig: Knex.MigratorConfig = {
  migrationSource,
  tableName: MIGRATIONS_TABLE,
  disableMigrationsListValidation: true,
};

/**
 * Brings the schema up to date. Several processes may start at once (the API and the dispatcher
 * of a compose file, replicas); knex lets one migrate and refuses the others, who wait their turn.
 */
export async function migrateLatest(pool: Knex, { waitMs = 30_000 } = {}): Promise<string[]> {
  const db = withoutStatementTimeouts(pool);
  try {
    return await migrateWhenUnlocked(db, waitMs);
  } finally {
    if (db !== pool) await db.destroy();
  }
}

/**
 * A one-connection pool like `pool` but without its statement deadlines: the service's pool gives
 * every statement a few seconds, and building an index on a large table takes longer than that.
 */
function withoutStatementTimeouts(pool: Knex): Knex {
  const config = pool.client.config as Knex.Config;
  const connection = config.connection as Record<string, unknown> | undefined;
  if (
    !connection ||
    typeof connection !== 'object' ||
    !('statement_timeout' in connection || 'query_timeout' in connection)
  )
    return pool;
  return knex({
    ...config,
    connection: { ...connection, statement_timeout: 0, query_timeout: 0 },
    pool: { min: 0, max: 1 },
  });
}

/** Polled at a steady pace: the other process's migration ends when it ends, and a growing pause would only start this one later. */
const migrateWhenUnlocked = (db: Knex, waitMs: number): Promise<string[]> =>
  retrying(
    async () => {
      await renameOldMigrationRecords(db);
      const [, applied] = (await db.migrate.latest(migrationConfig)) as [number, string[]];
      return applied;
    },
    {
      retryIf: (err) => (err as Error).name === 'MigrationLocked',
      delay: constant(250),
      deadline: Date.now() + waitMs,
    },
  );
