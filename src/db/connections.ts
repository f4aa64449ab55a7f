/**
 * What each pooled connection learns when it opens: whether it reaches PostgreSQL directly or
 * through a connection pooler (PgBouncer, a managed proxy), and what it may do there.
 *
 * A pooler in transaction mode hands a client's statements to whichever server connection is
 * free, so a statement prepared under a name on one is missing on the next ("prepared statement
 * does not exist") or already there ("already exists"), and a session setting leaks to other
 * clients. The pooler gives itself away at once: the process id it announces at startup
 * (BackendKeyData) is its own, not the one `pg_backend_pid()` reports.
 */
import type pg from 'pg';
import { transientCause } from './errors.ts';

/** `auto`: named statements only on a direct connection; `true`/`false` force them on or off. */
export const PREPARED_STATEMENT_MODES = ['auto', 'true', 'false'] as const;
export type PreparedStatementMode = (typeof PREPARED_STATEMENT_MODES)[number];

export interface ConnectionPolicy {
  preparedStatements: PreparedStatementMode;
  /** Set per session on a direct connection; behind a pooler the pooler's own setting holds. */
  statementTimeoutMs: number;
  /** Called once per pool: whether it reaches the server through a pooler, and the choice made. */
  onRoute?(route: { pooler: boolean; named: boolean }): void;
  /** Called once per pool when a named statement failed and the pool went over to unnamed ones. */
  onFallback?(err: Error): void;
}

/** Whether `client` talks to PostgreSQL itself rather than to a pooler in front of it. */
export async function reachesServerDirectly(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]?.pid === (client as unknown as { processID: number | null }).processID;
}

/**
 * Ends a client's socket at once: `end()` asks the server politely and waits for an answer that a
 * server gone quiet (behind a pooler, across a partition) never gives.
 */
export function destroySocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

type QueryArgs = [config: unknown, ...rest: unknown[]];

/**
 * The per-pool state and the two knex pool hooks that apply it: `afterCreate` probes each new
 * connection and wraps its `query`, `validate` turns away a connection that cannot be trusted
 * with another statement.
 */
export function connectionHooks(policy: ConnectionPolicy) {
  let named = policy.preparedStatements !== 'false';
  let routeSaid = false;
  /** Connections whose last statement never came back: the socket is gone, so are they. */
  const broken = new WeakSet<pg.Client>();

  const probe = async (conn: pg.Client) => {
    const pooler = !(await reachesServerDirectly(conn));
    if (!pooler && policy.statementTimeoutMs > 0) {
      await conn.query(`SET statement_timeout = ${Math.floor(policy.statementTimeoutMs)}`);
    }
    if (policy.preparedStatements === 'auto' && pooler) named = false;
    if (!routeSaid) {
      routeSaid = true;
      policy.onRoute?.({ pooler, named });
    }
  };

  const wrap = (conn: pg.Client) => {
    const query = conn.query.bind(conn) as (...args: QueryArgs) => unknown;
    conn.query = ((...args: QueryArgs) => {
      const [config] = args;
      const isNamed = typeof config === 'object' && config !== null && 'name' in config;
      if (isNamed && !named) {
        const { name: _name, ...unnamed } = config as { name: string };
        args[0] = unnamed;
      }
      const callbackAt = args.findIndex((a) => typeof a === 'function');
      if (callbackAt < 0) return query(...args);
      const callback = args[callbackAt] as (err: Error | null, res?: unknown) => void;
      args[callbackAt] = (err: (Error & { code?: string }) | null, res?: unknown) => {
        if (err) onError(conn, err, isNamed && named);
        callback(err, res);
      };
      return query(...args);
    }) as typeof conn.query;
  };

  const onError = (conn: pg.Client, err: Error & { code?: string }, wasNamed: boolean) => {
    if (err.message === 'Query read timeout') {
      // pg answers the caller but keeps waiting for the server's reply, and every later statement
      // on this connection would queue behind it: end the socket so they fail now and knex
      // replaces the connection (a server that died behind a pooler never replies).
      broken.add(conn);
      destroySocket(conn);
    } else if (wasNamed && transientCause(err) === 'moved' && policy.preparedStatements === 'auto') {
      named = false;
      policy.onFallback?.(err);
    }
  };

  return {
    afterCreate: (conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) => {
      wrap(conn);
      probe(conn).then(
        () => done(null, conn),
        (err: Error) => {
          conn.end().catch(() => {});
          done(err, conn);
        },
      );
    },
    validate: (conn: pg.Client) => !broken.has(conn),
  };
}
