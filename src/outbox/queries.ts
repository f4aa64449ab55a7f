/**
 * SQL of the `outbox` table: enqueue, claim, and the three ways a claimed row ends (sent,
 * skipped, failed). Every finish is conditioned on still holding the lease, so a dispatcher
 * whose lease lapsed cannot overwrite the work of the one that took the row over. Nothing here
 * knows what a row's kind means.
 *
 * Longer than most modules on purpose: every statement that touches the table sits here, so that
 * one read shows how a row moves between statuses (graphile-worker keeps its SQL the same way).
 * The table's partitions, and retention by dropping them, are `partitions.ts`'s.
 */
import { createHash } from 'node:crypto';
import type { Conn } from '../db/database.ts';
import { runPrepared } from '../db/preparedStatement.ts';

/** Every status a row can be in (the table's CHECK constraint says the same). */
export const OUTBOX_STATUSES = ['pending', 'sending', 'sent', 'skipped', 'dead'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];
export const isOutboxStatus = (s: unknown): s is OutboxStatus => OUTBOX_STATUSES.includes(s as OutboxStatus);

export interface OutboxRow {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  /** The version of its kind's payload; a dispatcher claims only the versions its task reads. */
  payload_version: number;
  status: OutboxStatus;
  /** Tries so far, counted when the row is claimed. */
  attempts: number;
  /** How many times the row may be found abandoned (`lease_lapses`) before it goes dead. */
  max_attempts: number;
  /** How many times the row was reclaimed after its lease lapsed (its dispatcher died mid-send). */
  lease_lapses: number;
  /** When its dispatcher began its task, since its last claim; null while it waits in the dispatcher. */
  started_at: Date | null;
  /** When an operator last put the row back in line; GIVE_UP_AFTER counts from here, else from `created_at`. */
  retried_at: Date | null;
  run_after: Date;
  locked_until: Date | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  processed_at: Date | null;
}

/** Every column of `OutboxRow`, named: a prepared statement that returns `*` fails once a migration adds one. */
const OUTBOX_COLUMNS = [
  'id',
  'kind',
  'payload',
  'payload_version',
  'status',
  'attempts',
  'max_attempts',
  'lease_lapses',
  'started_at',
  'retried_at',
  'run_after',
  'locked_until',
  'locked_by',
  'last_error',
  'created_at',
  'updated_at',
  'processed_at',
] as const satisfies readonly (keyof OutboxRow)[];

const TIMESTAMP_COLUMNS = [
  'started_at',
  'retried_at',
  'run_after',
  'locked_until',
  'created_at',
  'updated_at',
  'processed_at',
] as const satisfies readonly (keyof OutboxRow)[];
type TimestampColumn = (typeof TIMESTAMP_COLUMNS)[number];
const isTimestamp = (column: string): column is TimestampColumn =>
  (TIMESTAMP_COLUMNS as readonly string[]).includes(column);

/**
 * `OUTBOX_COLUMNS` for a RETURNING list, the timestamps as epoch milliseconds (`withDates` makes
 * them Dates): the driver parses a timestamp's text with a regular expression, whose matches
 * were a tenth of what the dispatcher allocated per claimed row.
 */
const returnedColumns = (alias: string) =>
  OUTBOX_COLUMNS.map((c) =>
    isTimestamp(c) ? `(extract(epoch FROM ${alias}.${c}) * 1000)::float8 AS ${c}` : `${alias}.${c}`,
  ).join(', ');

type Returned = Omit<OutboxRow, TimestampColumn> & Record<TimestampColumn, number | null>;

// Column by column rather than `...row`: one object of one shape per row, and whatever else the
// statement returned (the claim's `full`) is left behind without a copy made to drop it.
const withDates = (row: Returned): OutboxRow => ({
  id: String(row.id),
  kind: row.kind,
  payload: row.payload,
  payload_version: row.payload_version,
  status: row.status,
  attempts: row.attempts,
  max_attempts: row.max_attempts,
  lease_lapses: row.lease_lapses,
  locked_by: row.locked_by,
  last_error: row.last_error,
  started_at: row.started_at === null ? null : new Date(row.started_at),
  retried_at: row.retried_at === null ? null : new Date(row.retried_at),
  run_after: new Date(row.run_after!),
  locked_until: row.locked_until === null ? null : new Date(row.locked_until),
  created_at: new Date(row.created_at!),
  updated_at: new Date(row.updated_at!),
  processed_at: row.processed_at === null ? null : new Date(row.processed_at),
});

export interface NewOutboxRow {
  kind: string;
  payload: Record<string, unknown>;
  /** 1 when not given. */
  payloadVersion?: number;
  maxAttempts: number;
  /** Not inserted once this moment has passed on the server's clock (its caller was told so). */
  deadline?: Date;
}

/**
 * Inserts `rows` in one statement and one commit; their ids in the order given, or null for a row
 * whose deadline had passed when the server ran the statement (not inserted). The rows go as one
 * JSON parameter (`rowsDocument`), so the statement's text is the same for any number of rows and
 * the server plans it once.
 */
export async function enqueueMany(db: Conn, rows: readonly NewOutboxRow[]): Promise<(string | null)[]> {
  const [result] = await runPrepared<InsertedRows>(
    db,
    'outbox_enqueue_many',
    `
    WITH live AS (
      SELECT * FROM ${rowsFromDocument()} WHERE ${BEFORE_DEADLINE}
    ), ${insertRowsSql('live')}
    SELECT ${INSERTED_COLUMNS}
    `,
    [rowsDocument(rows)],
  );
  return insertedIds(rows.length, result);
}

/**
 * The rows of a `rowsDocument` bound at this `?`, as a relation r: kind, payload, payload_version,
 * max_attempts, deadline_ms, the `extra` text columns, and n (the row's place in the list, from 1).
 */
export function rowsFromDocument(extra: readonly string[] = []): string {
  const columns = ['kind', 'payload', 'payload_version', 'max_attempts', 'deadline_ms', ...extra];
  const types = ['text', 'jsonb', 'smallint', 'int', 'float8', ...extra.map(() => 'text')];
  return `ROWS FROM (json_to_recordset(?::json) AS (${columns.map((c, i) => `${c} ${types[i]}`).join(', ')}))
        WITH ORDINALITY AS r(${columns.join(', ')}, n)`;
}

/**
 * `rows` as the one JSON parameter of `rowsFromDocument`, each with its `extra` columns (text). One
 * JSON text costs the driver one native stringify, where arrays cost it an escape per element.
 */
export function rowsDocument(rows: readonly NewOutboxRow[], extra?: (i: number) => Record<string, string>): string {
  return JSON.stringify(
    rows.map((r, i) => ({
      kind: r.kind,
      payload: r.payload,
      payload_version: r.payloadVersion ?? 1,
      max_attempts: r.maxAttempts,
      // Epoch milliseconds: a Date would cost JSON.stringify a toISOString per row, about as much
      // as the rest of the row. Absent: NULL, no deadline.
      deadline_ms: r.deadline?.getTime(),
      ...extra?.(i),
    })),
  );
}

/**
 * The INSERT of `enqueueMany`, for a statement that decides which rows to insert itself: a CTE
 * named `inserted`. `source` names a relation with the columns kind, payload, payload_version,
 * max_attempts and n (the row's place in the caller's list, from 1); rows go in in the order of n.
 */
export function insertRowsSql(source: string): string {
  return `inserted AS (
      INSERT INTO outbox (kind, payload, payload_version, max_attempts)
      SELECT kind, payload, payload_version, max_attempts FROM ${source} ORDER BY n
      RETURNING id
    )`;
}

/** A row's deadline, checked on the server's clock as the statement runs (column `deadline_ms`). */
export const BEFORE_DEADLINE = 'deadline_ms IS NULL OR clock_timestamp() < to_timestamp(deadline_ms / 1000)';

/** What a statement with `insertRowsSql` selects, from the inserted rows of `live`: see `insertedIds`. */
export const INSERTED_COLUMNS = `(SELECT json_agg(n ORDER BY n) FROM live) AS ns,
           (SELECT json_agg(id::text ORDER BY id) FROM inserted) AS ids`;

export interface InsertedRows {
  ns: number[] | null;
  ids: string[] | null;
}

/** Each of `count` rows' id in the caller's order, or null where it was not inserted (its deadline had passed). */
export function insertedIds(count: number, result: InsertedRows | undefined): (string | null)[] {
  // Rows are inserted in order and each takes the next id, so ascending ids follow ascending n.
  const ids: (string | null)[] = Array.from({ length: count }, () => null);
  result?.ns?.forEach((n, i) => (ids[n - 1] = result.ids![i]!));
  return ids;
}

/** One row (inside the caller's transaction, if it has one); its id. */
export async function enqueue(db: Conn, row: NewOutboxRow): Promise<string> {
  const [id] = await enqueueMany(db, [row]);
  if (!id) throw new Error('row not inserted: its deadline had passed');
  return id;
}

/** A kind and one payload version of it that a dispatcher reads. */
export interface KnownKind {
  kind: string;
  payloadVersion: number;
}

/** A payload larger than this (as JSON text) is never handed to a dispatcher: it goes `dead`. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * The payloads one claim hands over, together (as JSON text; the first row always comes). A batch
 * of rows each under MAX_PAYLOAD_BYTES could still exceed a dispatcher thread's heap; its claim
 * would never commit (the thread dies reading the answer), and every restart would claim it again.
 */
export const MAX_CLAIM_BYTES = 4 * 1024 * 1024;

/** Claimed rows; `full` when the claim stopped at its limit of rows or bytes, so more may be due. */
export type Claim = OutboxRow[] & { full: boolean };

/**
 * A row whose lease lapsed after it had started (`lease_lapses` > 0): it may be what crashed its
 * dispatcher, so it is claimed alone and worked with nothing else in flight.
 */
export const isSuspect = (row: Pick<OutboxRow, 'lease_lapses'>): boolean => row.lease_lapses > 0;

/**
 * Claims up to `limit` due rows for `workerId` (only rows among `ids`, when given; only rows whose
 * kind and payload version are among `known`, when given: the rest wait, untouched, for a
 * dispatcher that reads them), counting the attempt now: a send that kills the process is still
 * an attempt. A claimed row's `run_after` is set to its lease's end, so when a dispatcher dies the
 * row is simply due again once the lease lapses.
 *
 * The first `startAtOnce` rows (all, by default; never a suspect) are marked started
 * (`started_at`); the caller marks the others with `markStartedMany` when it begins them. A row found with a lapsed lease (still
 * `sending`) counts a lease lapse only if it had started, and at its `max_attempts`-th it goes
 * `dead` ("crashed the dispatcher") instead of being claimed again; one that had not started is
 * claimed as if it had been handed back. A suspect (see `isSuspect`) is claimed alone, first, so
 * that a crash while it is worked pins it and no other row. A row whose payload is larger than
 * `maxPayloadBytes` goes `dead` here, never reaching (and exhausting) a dispatcher's memory, and
 * the rows' payloads together stop the claim at `maxClaimBytes`.
 */
export async function claimDue(
  db: Conn,
  workerId: string,
  limit: number,
  leaseSeconds: number,
  {
    ids,
    known,
    startAtOnce = limit,
    maxPayloadBytes = MAX_PAYLOAD_BYTES,
    maxClaimBytes = MAX_CLAIM_BYTES,
  }: {
    ids?: readonly string[];
    known?: readonly KnownKind[];
    startAtOnce?: number;
    maxPayloadBytes?: number;
    maxClaimBytes?: number;
  } = {},
): Promise<Claim> {
  // A lapsed row its late dispatcher finishes just as this claim locks it has moved away. Prepared:
  // planned once per connection, not on every claim (~0.4 ms of the server's CPU each).
  const rows = await againIfMoved(() =>
    runPrepared<Returned & { full: boolean }>(
      db,
      'outbox_claim_due',
      `
    WITH due AS (
      SELECT id, run_after,
             status = 'sending' AND started_at IS NOT NULL AS lapsed,
             status = 'sending' AND started_at IS NULL AS unstarted,
             status = 'sending' AND started_at IS NOT NULL AND lease_lapses + 1 >= max_attempts AS crashed,
             -- The stored size first: cheap, and a huge compressible payload is caught without rendering it.
             CASE WHEN pg_column_size(payload) > :maxPayloadBytes::int THEN :maxPayloadBytes::int + 1
                  ELSE octet_length(payload::text) END AS bytes,
             (status = 'sending' AND started_at IS NOT NULL) OR lease_lapses > 0 AS suspect
      FROM outbox
      WHERE status IN ('pending', 'sending') AND run_after <= now()
        AND (:ids::bigint[] IS NULL OR id = ANY(:ids::bigint[]))
        -- Uncorrelated, so the server hashes the pairs once and probes the hash for each row of the
        -- index scan; a row waiting for another dispatcher costs one probe, not a subquery.
        AND (:kinds::text[] IS NULL OR (kind, payload_version) IN (
          SELECT * FROM unnest(:kinds::text[], :versions::smallint[])))
      ORDER BY run_after, id
      LIMIT :limit
      FOR UPDATE SKIP LOCKED
    ), sized AS (
      SELECT *, bytes > :maxPayloadBytes::int AS oversized FROM due
    ), budget AS (
      -- What the rows handed over carry before each one, in claim order.
      SELECT id, coalesce(sum(bytes) OVER (ORDER BY run_after, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
      FROM sized WHERE NOT crashed AND NOT oversized
    ), live AS (
      SELECT s.* FROM sized s JOIN budget b USING (id) WHERE b.before < :maxClaimBytes::bigint
    ), first_suspect AS (
      SELECT id FROM live WHERE suspect ORDER BY run_after, id LIMIT 1
    ), picked AS (
      -- The rows to end here, and either the first suspect alone or every other row.
      SELECT c.*, row_number() OVER (PARTITION BY c.crashed OR c.oversized ORDER BY c.run_after, c.id) AS n
      FROM sized c
      WHERE c.crashed OR c.oversized
         OR CASE WHEN EXISTS (SELECT FROM first_suspect) THEN c.id = (SELECT id FROM first_suspect)
                 ELSE c.id IN (SELECT id FROM live) END
    ), claimed AS (
      UPDATE outbox o
      SET status = CASE WHEN picked.crashed OR picked.oversized THEN 'dead' ELSE 'sending' END,
          attempts = CASE WHEN picked.crashed OR picked.oversized OR picked.unstarted THEN o.attempts ELSE o.attempts + 1 END,
          lease_lapses = o.lease_lapses + CASE WHEN picked.lapsed THEN 1 ELSE 0 END,
          locked_by = CASE WHEN picked.crashed OR picked.oversized THEN NULL ELSE :workerId END,
          locked_until = CASE WHEN picked.crashed OR picked.oversized THEN NULL ELSE now() + make_interval(secs => :leaseSeconds) END,
          run_after = CASE WHEN picked.crashed OR picked.oversized THEN o.run_after ELSE now() + make_interval(secs => :leaseSeconds) END,
          -- A suspect may wait for the rows in flight before it: it is marked when it starts.
          started_at = CASE WHEN NOT (picked.crashed OR picked.oversized OR picked.suspect) AND picked.n <= :startAtOnce::int
                            THEN now() END,
          processed_at = CASE WHEN picked.crashed OR picked.oversized THEN now() END,
          last_error = CASE
            WHEN picked.oversized THEN format('payload too large: over %s bytes as JSON (%s bytes stored)', :maxPayloadBytes::int, pg_column_size(o.payload))
            WHEN picked.crashed THEN format('crashed the dispatcher: its lease lapsed %s times while it was being sent (last held by %s)', o.lease_lapses + 1, o.locked_by)
            ELSE o.last_error END,
          updated_at = now()
      FROM picked
      -- The status again, so that the update looks in outbox_live alone, not in every day's partition.
      WHERE o.id = picked.id AND o.status IN ('pending', 'sending')
      RETURNING ${returnedColumns('o')}
    )
    -- Whether the claim was full comes back even when no row does (all of a full batch went dead).
    SELECT c.*, f.full
    FROM (SELECT (SELECT count(*) FROM due) = :limit::int
                 OR EXISTS (SELECT FROM budget WHERE before >= :maxClaimBytes::bigint) AS full) f
    LEFT JOIN claimed c ON c.status = 'sending'
    ORDER BY c.run_after, c.id
    `,
      // No ids (no known) binds SQL NULL: no filter.
      {
        ids: ids ?? null,
        kinds: known?.map((k) => k.kind) ?? null,
        versions: known?.map((k) => k.payloadVersion) ?? null,
        limit,
        workerId,
        leaseSeconds,
        startAtOnce,
        maxPayloadBytes,
        maxClaimBytes,
      },
    ),
  );
  return Object.assign(rows.filter((row) => row.id !== null).map(withDates), { full: rows[0]?.full ?? false });
}

/**
 * Marks claimed rows started, just before their tasks run, where `workerId` still holds them: from
 * here a lapse of a row's lease counts against it (see `claimDue`). For each id, false when the
 * lease was lost.
 */
export async function markStartedMany(db: Conn, ids: readonly string[], workerId: string): Promise<boolean[]> {
  const rows = await runPrepared<{ id: string }>(
    db,
    'outbox_mark_started',
    `
    UPDATE outbox SET started_at = now()
    WHERE id = ANY(?::bigint[]) AND status = 'sending' AND locked_by = ?
    RETURNING id
    `,
    [ids, workerId],
  );
  const held = new Set(rows.map((r) => String(r.id)));
  return ids.map((id) => held.has(id));
}

/**
 * Milliseconds until the next row of `known` comes due (a retry's backoff, a lease's end), or
 * undefined when none is waiting: the dispatcher wakes then instead of at its next cron tick.
 * Counted on the database's clock, as `run_after` is. A row that came due within the last
 * `sinceMs` (after the question before, but before this one) counts, as due now or earlier.
 */
export async function msUntilNextDue(db: Conn, known?: readonly KnownKind[], sinceMs = 0): Promise<number | undefined> {
  const rows = await runPrepared<{ ms: number | null }>(
    db,
    'outbox_next_due',
    `
    SELECT extract(epoch FROM min(run_after) - now()) * 1000 AS ms
    FROM outbox
    WHERE status IN ('pending', 'sending') AND run_after > now() - :sinceMs::float8 * interval '1 millisecond'
      AND (:kinds::text[] IS NULL OR (kind, payload_version) IN (
        SELECT * FROM unnest(:kinds::text[], :versions::smallint[])))
    `,
    {
      kinds: known?.map((k) => k.kind) ?? null,
      versions: known?.map((k) => k.payloadVersion) ?? null,
      sinceMs,
    },
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : Number(ms);
}

const released = { locked_by: null, locked_until: null };

/**
 * A write that goes with rows' ends, made by the statement that records them: `sql(items)` is a
 * data-modifying statement reading its items from `items`, SQL of a JSON array, which holds only
 * the items of rows whose end the statement recorded (a row whose lease was lost has its end and
 * its write dropped together). Each item carries the `outbox_id` of its row.
 */
export interface EndWrite {
  readonly sql: (items: string) => string;
}

/** How a claimed row ended well: `sent`, or `skipped` with the reason kept in `last_error`. */
export interface Finish {
  id: string;
  status: 'sent' | 'skipped';
  reason: string | null;
  /** Written with the end, only if the end is. */
  alongside?: { readonly write: EndWrite; readonly item: Record<string, unknown> };
}

/** What `finishMany`'s JSON document carries of each finish. */
const FINISH_FIELDS: (keyof Finish)[] = ['id', 'status', 'reason'];

/**
 * Records several finishes in one statement (the dispatcher's group commit), each only if
 * `workerId` still holds the row's lease, with the writes that go with them; for each finish,
 * whether it did.
 */
export async function finishMany(db: Conn, workerId: string, finishes: readonly Finish[]): Promise<boolean[]> {
  const writes = new Map<EndWrite, Record<string, unknown>[]>();
  for (const { id, alongside } of finishes) {
    if (!alongside) continue;
    const items = writes.get(alongside.write) ?? [];
    items.push({ ...alongside.item, outbox_id: id });
    writes.set(alongside.write, items);
  }
  // In a stable order, so that a batch with the same writes makes the same text.
  const withWrites = [...writes.entries()]
    .map(([write, items]) => ({ sql: write.sql(''), write, items }))
    .sort((x, y) => (x.sql < y.sql ? -1 : x.sql > y.sql ? 1 : 0));
  const sql = `
    WITH finished AS (
      UPDATE outbox o
      SET status = f.status,
          last_error = f.reason,
          locked_by = NULL,
          locked_until = NULL,
          processed_at = now(),
          updated_at = now()
      FROM json_to_recordset(?::json) AS f(id bigint, status text, reason text)
      WHERE o.id = f.id AND o.status = 'sending' AND o.locked_by = ?
      RETURNING o.id
    )${withWrites
      .map(
        ({ write }, i) => `, kept_${i} AS (
      SELECT coalesce(json_agg(x.item), '[]') AS items FROM json_array_elements(?::json) AS x(item)
      WHERE (x.item->>'outbox_id')::bigint IN (SELECT id FROM finished)
    ), alongside_${i} AS (${write.sql(`(SELECT items FROM kept_${i})`)})`,
      )
      .join('')}
    SELECT id FROM finished
    `;
  const rows = await runPrepared<{ id: string }>(
    db,
    // Named by its text: one name, one text, whatever the writes a batch carries.
    withWrites.length === 0 ? 'outbox_finish_many' : nameOf(sql),
    sql,
    // One JSON text for the three columns, made in one call, rather than arrays, which the driver
    // writes element by element with two regular-expression replaces each.
    [JSON.stringify(finishes, FINISH_FIELDS), workerId, ...withWrites.map(({ items }) => JSON.stringify(items))],
  );
  const stillHeld = new Set(rows.map((r) => String(r.id)));
  return finishes.map((f) => stillHeld.has(f.id));
}

const finishNames = new Map<string, string>();
const nameOf = (sql: string) => {
  let name = finishNames.get(sql);
  if (!name) {
    name = `outbox_finish_with_${createHash('sha256').update(sql).digest('hex').slice(0, 16)}`;
    finishNames.set(sql, name);
  }
  return name;
};

export interface Failure {
  error: string;
  /** Trying again cannot help: dead at once. */
  permanent: boolean;
  retryInSeconds: number;
  /** A temporary failure this long after the row was queued (or retried by an operator) is the last: dead. */
  giveUpAfterSeconds: number;
}

/**
 * Records a failed attempt (counted at the claim): back to `pending` after `retryInSeconds` (but
 * not past the row's give-up time, so the last try falls on it), or `dead` when the failure is
 * permanent or `giveUpAfterSeconds` have passed since the row was queued or retried. Returns the status the row ended in,
 * or undefined if the lease was lost.
 */
export async function markFailed(
  db: Conn,
  id: string,
  workerId: string,
  { error, permanent, retryInSeconds, giveUpAfterSeconds }: Failure,
): Promise<'pending' | 'dead' | undefined> {
  const giveUpAt = 'coalesce(retried_at, created_at) + make_interval(secs => :giveUpAfterSeconds)';
  const dead = `(:permanent OR now() >= ${giveUpAt})`;
  const { rows } = await db.raw<{ rows: { status: 'pending' | 'dead' }[] }>(
    `
    UPDATE outbox
    SET status = CASE WHEN ${dead} THEN 'dead' ELSE 'pending' END,
        run_after = LEAST(now() + make_interval(secs => :retryInSeconds), ${giveUpAt}),
        processed_at = CASE WHEN ${dead} THEN now() END,
        last_error = CASE WHEN NOT :permanent AND now() >= ${giveUpAt}
          THEN format('gave up after %s: %s', justify_interval(make_interval(secs => :giveUpAfterSeconds)), :error::text)
          ELSE :error::text END,
        locked_by = NULL,
        locked_until = NULL,
        updated_at = now()
    WHERE id = :id AND status = 'sending' AND locked_by = :workerId
    RETURNING status
    `,
    { id, workerId, error: error.slice(0, 2000), permanent, retryInSeconds, giveUpAfterSeconds },
  );
  return rows[0]?.status;
}

/** Hands rows back unstarted (shutdown): due again at once, their claim not counted as a try. */
export async function release(db: Conn, ids: string[], workerId: string): Promise<number> {
  if (ids.length === 0) return 0;
  return db('outbox')
    .whereIn('id', ids)
    .where({ status: 'sending', locked_by: workerId })
    .update({
      ...released,
      status: 'pending',
      attempts: db.raw('greatest(attempts - 1, 0)'),
      run_after: db.fn.now(),
      updated_at: db.fn.now(),
    });
}

/**
 * Pushes the lease of rows still being worked on further out, so a long batch keeps them. A row
 * being finished right now is skipped rather than waited for: its finish moves it out of
 * `outbox_live`, and a statement that waited for it would fail on the moved row.
 */
export async function renewLeases(db: Conn, ids: string[], workerId: string, leaseSeconds: number): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await againIfMoved(() =>
    db.raw(
      `
      UPDATE outbox o
      SET locked_until = now() + make_interval(secs => :leaseSeconds),
          run_after = now() + make_interval(secs => :leaseSeconds)
      FROM (
        SELECT id FROM outbox
        WHERE id = ANY(:ids::bigint[]) AND status = 'sending' AND locked_by = :workerId
        FOR UPDATE SKIP LOCKED
      ) held
      WHERE o.id = held.id AND o.status = 'sending'
      `,
      { ids, workerId, leaseSeconds },
    ),
  );
  return rowCount ?? 0;
}

/**
 * Runs `statement` again, once, if it failed because a row it was about to lock had just been
 * finished (moved from `outbox_live` to `outbox_done` by a transaction that committed after the
 * statement began): run again, the statement no longer sees that row as its own.
 */
async function againIfMoved<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (err) {
    const { code, message } = err as { code?: string; message?: string };
    if (code !== '40001' || !message?.includes('moved to another partition')) throw err;
    return statement();
  }
}

export interface OutboxSummaryRow {
  status: OutboxStatus;
  count: number;
  oldest_created_at: Date | null;
  next_run_after: Date | null;
}

export async function summary(db: Conn): Promise<OutboxSummaryRow[]> {
  const rows = await db('outbox_summary').orderBy('status');
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

export function listByStatus(db: Conn, status: OutboxStatus, limit: number): Promise<OutboxRow[]> {
  return db<OutboxRow>('outbox').where({ status }).orderBy('id', 'desc').limit(limit);
}

/**
 * Puts rows back in line: due now, attempts counted afresh, the last error kept for the record,
 * and `retried_at` now, so the row has a whole GIVE_UP_AFTER of tries again. Only finished-badly
 * or waiting rows: a row being sent is left to its dispatcher.
 */
export function retry(db: Conn, where: { id: string } | { status: 'dead' }): Promise<number> {
  return db('outbox')
    .where(where)
    .whereIn('status', ['dead', 'pending', 'skipped'])
    .update({
      status: 'pending',
      attempts: 0,
      lease_lapses: 0,
      run_after: db.fn.now(),
      retried_at: db.fn.now(),
      processed_at: null,
      ...released,
      updated_at: db.fn.now(),
    });
}
