/**
 * The database: a knex instance on `DATABASE_URL`, or on the embedded development server when
 * it is unset, and the migrations that make its schema.
 */
import path from 'node:path';
import knex, { type Knex } from 'knex';
import type { Settings } from './config.ts';
import { ensureDatabase, startEmbeddedPostgres } from './embeddedPostgres.ts';
import type { Logger } from './log.ts';
import { MIGRATIONS_TABLE, migrationSource, renameOldMigrationRecords } from './migrations.ts';

export type Db = Knex;
export type Tx = Knex.Transaction;

export const migrationConfig: Knex.MigratorConfig = { migrationSource, tableName: MIGRATIONS_TABLE };

/**
 * A pool on `url`. Short timeouts on purpose: with PostgreSQL down, a request should get a 503
 * in a few seconds rather than hang; the pool makes new connections once it is back.
 */
export function createDb(url: string, { poolMax = 10, timeoutSeconds = 3 } = {}): Db {
  return knex({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: timeoutSeconds * 1000 },
    pool: { min: 0, max: poolMax },
    migrations: migrationConfig,
    acquireConnectionTimeout: timeoutSeconds * 1000,
  });
}

const dbOptions = (config: Settings) => ({ poolMax: config.database.POOL_MAX, timeoutSeconds: config.database.TIMEOUT_SECONDS });

/**
 * Brings the schema up to date. Several processes may start at once (the API and the dispatcher
 * of a compose file, replicas); knex lets one migrate and refuses the others, who wait their turn.
 */
export async function migrateLatest(db: Db, { waitMs = 30_000 } = {}): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await renameOldMigrationRecords(db);
      const [, applied] = (await db.migrate.latest()) as [number, string[]];
      return applied;
    } catch (err) {
      if ((err as Error).name !== 'MigrationLocked' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface Database {
  readonly db: Db;
  readonly url: string;
  /** Closes the pool and stops the embedded server if this process started it. */
  close(): Promise<void>;
}

/** The database the settings name, starting or joining the embedded server when none is named. */
export async function openDatabase(config: Settings, log: Logger): Promise<Database> {
  if (config.databaseUrl) {
    const db = createDb(config.databaseUrl, dbOptions(config));
    return { db, url: config.databaseUrl, close: () => db.destroy() };
  }
  const server = await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), log);
  try {
    const url = await ensureDatabase(server.adminUrl, 'dundie');
    const db = createDb(url, dbOptions(config));
    return {
      db,
      url,
      close: async () => {
        await db.destroy();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
