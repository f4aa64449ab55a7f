/**
 * The database: a knex instance on `DATABASE_URL`, or on the embedded development server when
 * it is unset.
 */
import path from 'node:path';
import process from 'node:process';
import knex, { type Knex } from 'knex';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { ensureDatabase, startEmbeddedPostgres } from './embeddedPostgres.ts';
import { migrationConfig } from './migrations.ts';

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Whatever a query can run on: the pool, or a transaction the caller opened. */
export type Conn = Db | Tx;

/**
 * A pool on `url`. Short timeouts on purpose: with PostgreSQL down, a request should get a 503
 * in a few seconds rather than hang; the pool makes new connections once it is back. Every
 * statement has a deadline too: `statement_timeout` on the server (a slow query, a lock wait) and
 * `query_timeout` in the driver (a server that does not answer at all: stopped, partitioned).
 * Migrations run without them (`migrateLatest`).
 */
export function createDb(url: string, { poolMax = 10, timeoutSeconds = 3 } = {}): Db {
  return knex({
    client: 'pg',
    connection: {
      connectionString: url,
      connectionTimeoutMillis: timeoutSeconds * 1000,
      statement_timeout: timeoutSeconds * 1000,
      query_timeout: timeoutSeconds * 1000,
    },
    pool: { min: 0, max: poolMax },
    migrations: migrationConfig,
    acquireConnectionTimeout: timeoutSeconds * 1000,
  });
}

/**
 * Query options (`db.raw(...).options(preparedAs(name))`) for a hot statement: the driver prepares
 * it once per connection under `name`, so the server parses and plans it once, not per call.
 * Only for statements whose text never changes and whose result columns are listed by name (a
 * `SELECT *` prepared before a migration adds a column fails with "cached plan must not change
 * result type"). Behind PgBouncer in transaction mode this needs its `max_prepared_statements`.
 */
export const preparedAs = (name: string) => ({ name: `dundie_${name}` });

const dbOptions = (config: Settings) => ({
  poolMax: config.database.POOL_MAX,
  timeoutSeconds: config.database.TIMEOUT_SECONDS,
});

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
  const server = await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), log, {
    // Not restartable: exit non-zero, so that a supervisor (or the developer) starts us again.
    onFatal: () => process.exit(1),
  });
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
