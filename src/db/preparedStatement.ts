/**
 * The hot statements, those of every reset request and of every row the dispatcher works: prepared
 * once per connection, and run on the driver without knex's builder and runner, which cost more
 * of Node's CPU per call than the driver itself (docs/performance.md). Everything else goes
 * through knex.
 */
import type { Knex } from 'knex';
import type pg from 'pg';
import type { Conn } from './database.ts';

/** Positional (`?`) or named (`:name`) bindings, as knex's `raw` takes them. */
export type Bindings = readonly unknown[] | Readonly<Record<string, unknown>>;

/**
 * Runs `sql`, with knex's bindings, prepared under `dundie_<name>`: the server parses and plans it
 * once per connection, not on every call (behind a transaction pooler the name is dropped,
 * `connections.ts`). knex turns the text into the driver's `$1` form once per name. Only for a
 * text that never changes and whose result columns are named: a `SELECT *` prepared before a
 * migration adds a column fails with "cached plan must not change result type".
 *
 * The connection comes from knex's pool (or is the transaction's), so the pool's timeouts and
 * checks hold, and the driver is called with a callback as knex calls it, so `connections.ts`
 * sees each outcome. knex's `query`, `query-response` and `query-error` events are emitted, with
 * the statement's text, bindings and name. An error's message is the server's, without the
 * statement and every one of its bindings (addresses among them) in front as knex puts them.
 * Resolves to the rows the driver returns.
 */
export async function runPrepared<Row>(conn: Conn, name: string, sql: string, bindings: Bindings): Promise<Row[]> {
  let native = natives.get(name);
  if (native?.sql !== sql) {
    if (native) throw new Error(`statement ${name}: another text under the same name`);
    native = toNative(conn, name, sql, bindings);
    natives.set(name, native);
  }
  const { prepared, text, order } = native;
  const values = (order ? order.map((key) => (bindings as Record<string, unknown>)[key]) : bindings) as unknown[];
  // knex refuses these; the driver would bind them as NULL, and a lost argument would match nothing.
  if (values.some((v) => v === undefined || (Array.isArray(v) && v.includes(undefined))))
    throw new Error(`statement ${name}: an undefined binding`);
  // knex refuses a finished transaction too: its connection is back in the pool, maybe in another's.
  if (conn.isTransaction && (conn as Knex.Transaction).isCompleted())
    throw new Error(`statement ${name}: the transaction is already complete`);
  const client = conn.client as Pool;
  const connection = await client.acquireConnection();
  try {
    // knex's own events, for whoever watches the statements (the tests count them).
    const query = {
      __knexUid: connection.__knexUid,
      method: 'raw',
      sql: text,
      bindings: values,
      options: { name: prepared },
    };
    client.emit('query', query);
    try {
      const result = await new Promise<pg.QueryResult>((resolve, reject) => {
        connection.query({ name: prepared, text, values }, (err, res) => (err ? reject(err) : resolve(res)));
      });
      client.emit('query-response', result, query);
      return result.rows as Row[];
    } catch (err) {
      client.emit('query-error', err, query);
      throw err;
    }
  } finally {
    await client.releaseConnection(connection);
  }
}

const natives = new Map<string, Native>();

/** What knex's client offers for running a statement on a connection of its own. */
interface Pool {
  acquireConnection(): Promise<pg.Client & { __knexUid?: string }>;
  releaseConnection(connection: pg.Client): Promise<void>;
  emit(event: string, ...args: unknown[]): boolean;
}

interface Native {
  sql: string;
  /** The name it is prepared under on the server. */
  prepared: string;
  text: string;
  /** For named bindings: the key of each `$n`, in order (a name used twice is bound twice). */
  order?: string[];
}

function toNative(conn: Conn, name: string, sql: string, bindings: Bindings): Native {
  if (Array.isArray(bindings)) {
    const native = conn
      .raw(sql, bindings as Knex.RawBinding[])
      .toSQL()
      .toNative();
    if (native.bindings.length !== bindings.length)
      throw new Error(`statement ${name}: ${native.bindings.length} bindings in its text, ${bindings.length} given`);
    return { sql, prepared: `dundie_${name}`, text: native.sql };
  }
  // Each key bound to a marker of its own: where knex puts the markers says where the values go.
  const keys = Object.keys(bindings);
  const markers = Object.fromEntries(keys.map((key, i) => [key, `\u0000${i}`]));
  const native = conn.raw(sql, markers).toSQL().toNative();
  const keyOf = new Map(keys.map((key) => [markers[key], key]));
  return {
    sql,
    prepared: `dundie_${name}`,
    text: native.sql,
    order: native.bindings.map((marker) => keyOf.get(marker as string)!),
  };
}
