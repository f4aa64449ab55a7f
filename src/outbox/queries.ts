/**
 * SQL of the `outbox` table: enqueue, claim, and the three ways a claimed row ends (sent,
 * skipped, failed). Every finish is conditioned on still holding the lease, so a dispatcher
 * whose lease lapsed cannot overwrite the work of the one that took the row over. Nothing here
 * knows what a row's kind means.
 *
 * Longer than most modules on purpose: every statement that touches the table sits here, so that
 * one read shows how a row moves between statuses (graphile-worker keeps its SQL the same way).
 */
import { preparedAs, type Conn } from '../db/database.ts';

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
 * whose deadline had passed when the server ran the statement (not inserted). The statement's
 * text is the same for any number of rows (arrays, not a VALUES list), so the server plans it once.
 */
export async function enqueueMany(db: Conn, rows: readonly NewOutboxRow[]): Promise<(string | null)[]> {
  const {
    rows: [result],
  } = await db
    .raw<{ rows: { ns: string[] | null; ids: string[] | null }[] }>(
      `
    WITH live AS (
      SELECT * FROM unnest(?::text[], ?::jsonb[], ?::smallint[], ?::int[], ?::timestamptz[])
        WITH ORDINALITY AS r(kind, payload, payload_version, max_attempts, deadline, n)
      WHERE r.deadline IS NULL OR clock_timestamp() < r.deadline
    ), inserted AS (
      INSERT INTO outbox (kind, payload, payload_version, max_attempts)
      SELECT kind, payload, payload_version, max_attempts FROM live ORDER BY n
      RETURNING id
    )
    SELECT (SELECT array_agg(n ORDER BY n) FROM live)::text[] AS ns,
           (SELECT array_agg(id ORDER BY id) FROM inserted)::text[] AS ids
    `,
      // A row without a deadline binds NULL in the timestamptz[]; knex's types just do not say so.
      [
        rows.map((r) => r.kind),
        rows.map((r) => JSON.stringify(r.payload)),
        rows.map((r) => r.payloadVersion ?? 1),
        rows.map((r) => r.maxAttempts),
        rows.map((r) => r.deadline?.toISOString() ?? null) as string[],
      ],
    )
    .options(preparedAs('outbox_enqueue_many'));
  // Rows are inserted in order and each takes the next id, so ascending ids follow ascending n.
  const ids: (string | null)[] = rows.map(() => null);
  result?.ns?.forEach((n, i) => (ids[Number(n) - 1] = result.ids![i]!));
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

/**
 * Claims up to `limit` due rows for `workerId` (only rows among `ids`, when given; only rows whose
 * kind and payload version are among `known`, when given: the rest wait, untouched, for a
 * dispatcher that reads them), counting the attempt now: a send that kills the process is still
 * an attempt. A claimed row's `run_after` is set to its lease's end, so when a dispatcher dies the
 * row is simply due again once the lease lapses. A row found that way (still `sending`) counts a
 * lease lapse; at its `max_attempts`-th it goes `dead` ("crashed the dispatcher") instead of being
 * claimed again.
 */
export async function claimDue(
  db: Conn,
  workerId: string,
  limit: number,
  leaseSeconds: number,
  { ids, known }: { ids?: readonly string[]; known?: readonly KnownKind[] } = {},
): Promise<OutboxRow[]> {
  const { rows } = await db.raw<{ rows: OutboxRow[] }>(
    `
    WITH due AS (
      SELECT id, status = 'sending' AS lapsed, status = 'sending' AND lease_lapses + 1 >= max_attempts AS crashed
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
    ), claimed AS (
      UPDATE outbox o
      SET status = CASE WHEN due.crashed THEN 'dead' ELSE 'sending' END,
          attempts = CASE WHEN due.crashed THEN o.attempts ELSE o.attempts + 1 END,
          lease_lapses = o.lease_lapses + CASE WHEN due.lapsed THEN 1 ELSE 0 END,
          locked_by = CASE WHEN due.crashed THEN NULL ELSE :workerId END,
          locked_until = CASE WHEN due.crashed THEN NULL ELSE now() + make_interval(secs => :leaseSeconds) END,
          run_after = CASE WHEN due.crashed THEN o.run_after ELSE now() + make_interval(secs => :leaseSeconds) END,
          processed_at = CASE WHEN due.crashed THEN now() END,
          last_error = CASE WHEN due.crashed
            THEN format('crashed the dispatcher: its lease lapsed %s times while it was being sent (last held by %s)', o.lease_lapses + 1, o.locked_by)
            ELSE o.last_error END,
          updated_at = now()
      FROM due
      WHERE o.id = due.id
      RETURNING o.*
    )
    SELECT * FROM claimed WHERE status = 'sending' ORDER BY run_after, id
    `,
    // No ids (no known) binds SQL NULL: no filter; knex's types just do not say a binding may be null.
    {
      ids: (ids ?? null) as string[],
      kinds: (known?.map((k) => k.kind) ?? null) as string[],
      versions: (known?.map((k) => k.payloadVersion) ?? null) as number[],
      limit,
      workerId,
      leaseSeconds,
    },
  );
  return rows.map((row) => ({ ...row, id: String(row.id) }));
}

const released = { locked_by: null, locked_until: null };

/** How a claimed row ended well: `sent`, or `skipped` with the reason kept in `last_error`. */
export interface Finish {
  id: string;
  status: 'sent' | 'skipped';
  reason: string | null;
}

/**
 * Records several finishes in one statement (the dispatcher's group commit), each only if
 * `workerId` still holds the row's lease; for each finish, whether it did.
 */
export async function finishMany(db: Conn, workerId: string, finishes: readonly Finish[]): Promise<boolean[]> {
  const { rows } = await db
    .raw<{ rows: { id: string }[] }>(
      `
    UPDATE outbox o
    SET status = f.status,
        last_error = f.reason,
        locked_by = NULL,
        locked_until = NULL,
        processed_at = now(),
        updated_at = now()
    FROM unnest(?::bigint[], ?::text[], ?::text[]) AS f(id, status, reason)
    WHERE o.id = f.id AND o.status = 'sending' AND o.locked_by = ?
    RETURNING o.id
    `,
      // A null reason (a sent row) goes into the text[] as NULL; knex's types just do not say so.
      [finishes.map((f) => f.id), finishes.map((f) => f.status), finishes.map((f) => f.reason) as string[], workerId],
    )
    .options(preparedAs('outbox_finish_many'));
  const stillHeld = new Set(rows.map((r) => String(r.id)));
  return finishes.map((f) => stillHeld.has(f.id));
}

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

/** Pushes the lease of rows still being worked on further out, so a long batch keeps them. */
export async function renewLeases(db: Conn, ids: string[], workerId: string, leaseSeconds: number): Promise<number> {
  if (ids.length === 0) return 0;
  return db('outbox')
    .whereIn('id', ids)
    .where({ status: 'sending', locked_by: workerId })
    .update({
      locked_until: db.raw('now() + make_interval(secs => ?)', [leaseSeconds]),
      run_after: db.raw('now() + make_interval(secs => ?)', [leaseSeconds]),
    });
}

/** Deletes `sent` and `skipped` rows older than `days`, `batch` rows at a time (short locks). */
export async function deleteFinished(db: Conn, days: number, batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.raw(
      `
      DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
        WHERE status IN ('sent', 'skipped') AND processed_at < now() - make_interval(days => ?)
        LIMIT ?
      )
      `,
      [days, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
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
