/**
 * The database: a knex instance on `DATABASE_URL`, or on the embedded development server when
 * it is unset.
 */
import path from 'node:path';
import process from 'node:process';
import knex, { type Knex } from 'knex';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { connectionHooks, type PreparedStatementMode } from './connections.ts';
import { ensureDatabase, startEmbeddedPostgres } from './embeddedPostgres.ts';
import { migrationConfig } from './migrations.ts';

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Whatever a query can run on: the pool, or a transaction the caller opened. */
export type Conn = Db | Tx;

/**
 * A pool on `url`. Short timeouts on purpose: with PostgreSQL down, a request should get a 503
 * in a few seconds rather than hang; the pool makes new connections once it is back. Every
 * statement has a deadline too: `statement_timeout` on the server (a slow query, a lock wait; set
 * per session on a direct connection, see `connections.ts`) and `query_timeout` in the driver (a
 * server that does not answer at all: stopped, partitioned, gone behind a pooler), after which
 * the connection is closed rather than reused. Migrations run without them (`migrateLatest`).
 */
export interface DbOptions {
  poolMax?: number;
  timeoutSeconds?: number;
  preparedStatements?: PreparedStatementMode;
  /** Told how the pool reaches the server, once. */
  log?: Logger;
}

export function createDb(
  url: string,
  { poolMax = 10, timeoutSeconds = 3, preparedStatements = 'auto', log }: DbOptions = {},
): Db {
  const { afterCreate, validate } = connectionHooks({
    preparedStatements,
    statementTimeoutMs: timeoutSeconds * 1000,
    onRoute: ({ pooler, named }) =>
      pooler &&
      log?.info(
        { preparedStatements: named ? 'named' : 'unnamed' },
        "database reached through a connection pooler: no session settings, statement_timeout is the server's",
      ),
    onFallback: (err) =>
      log?.warn(
        { err: err.message },
        'a named statement failed as behind a transaction pooler: unnamed statements from now on (set DUNDIE_DATABASE__PREPARED_STATEMENTS=false to start that way)',
      ),
  });
  return knex({
    client: 'pg',
    connection: {
      connectionString: url,
      connectionTimeoutMillis: timeoutSeconds * 1000,
      query_timeout: timeoutSeconds * 1000,
      // A server that vanished without a word (a failover, a partition) is noticed on idle connections too.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    pool: { min: 0, max: poolMax, afterCreate, validate },
    migrations: migrationConfig,
    acquireConnectionTimeout: timeoutSeconds * 1000,
  });
}

const dbOptions = (config: Settings, log: Logger) => ({
  poolMax: config.database.POOL_MAX,
  timeoutSeconds: config.database.TIMEOUT_SECONDS,
  preparedStatements: config.database.PREPARED_STATEMENTS as PreparedStatementMode,
  log,
});

/** Where a dispatcher LISTENs for new rows. */
export interface ListenTarget {
  url: string;
  /** Named by the operator for listening (a direct or session-pooled URL): used without the pooler check. */
  verified: boolean;
}

const listenTarget = (config: Settings, url: string): ListenTarget =>
  config.database.LISTEN_URL ? { url: config.database.LISTEN_URL, verified: true } : { url, verified: false };

export interface Database {
  readonly db: Db;
  readonly url: string;
  /** Where the dispatcher LISTENs: LISTEN_URL when set (verified by the operator), else `url`. */
  readonly listen: ListenTarget;
  /** Closes the pool and stops the embedded server if this process started it. */
  close(): Promise<void>;
}

/** The database the settings name, starting or joining the embedded server when none is named. */
export async function openDatabase(config: Settings, log: Logger): Promise<Database> {
  if (config.databaseUrl) {
    const db = createDb(config.databaseUrl, dbOptions(config, log));
    return { db, url: config.databaseUrl, listen: listenTarget(config, config.databaseUrl), close: () => db.destroy() };
  }
  const server = await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), log, {
    // Not restartable: exit non-zero, so that a supervisor (or the developer) starts us again.
    onFatal: () => process.exit(1),
  });
  try {
    const url = await ensureDatabase(server.adminUrl, 'dundie');
    const db = createDb(url, dbOptions(config, log));
    return {
      db,
      url,
      listen: listenTarget(config, url),
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
