/**
 * What a failure from PostgreSQL or its driver means for the caller, in one table for the whole
 * service (graphile-worker's `RETRYABLE_ERROR_CODES`): transient (the server is away or busy:
 * retry after the pause its cause calls for, or answer 503), the caller's data (a broken
 * constraint or a value the server refuses: 4xx, never retried), or anything else (a bug: log
 * it and fail).
 */
import { exponential, type DelayPolicy } from '../delays.ts';

export type DbErrorKind = 'transient' | 'constraint' | 'data' | 'other';

/**
 * Why a failure is transient, which says how soon another try can help.
 * - `conflict`: a serialization failure or a deadlock: the other transaction is gone in moments.
 * - `wait`: a lock or a statement that ran out of time: one row another transaction holds, so a
 *   batch that met it is split (`isRowBoundDbError`).
 * - `moved`: a named statement missing or already there: a transaction pooler moved the session,
 *   and the pool goes over to unnamed statements (`connections.ts`).
 * - `away`: the server or the pooler cannot serve: connection lost, shutdown, restart, no slot.
 * - `backlog`: this process is behind: its pool or its write queue is full, a deadline passed.
 */
export type TransientCause = 'conflict' | 'wait' | 'moved' | 'away' | 'backlog';

type Cause = TransientCause | 'data' | 'constraint';

/**
 * SQLSTATEs, exact codes before their two-character class. Class 08 is listed code by code:
 * 08007 (transaction resolution unknown) may have committed, and must not be run twice.
 */
const SQLSTATES: Record<string, Cause> = {
  '08000': 'away',
  '08001': 'away',
  '08003': 'away',
  '08004': 'away',
  '08006': 'away',
  // Protocol violation: how PgBouncer reports its own troubles (query_wait_timeout, server conn crashed, …).
  '08P01': 'away',
  '26000': 'moved',
  '42P05': 'moved',
  '40001': 'conflict',
  '40P01': 'conflict',
  '53300': 'away', // too many connections
  '55P03': 'wait', // lock not available
  '57014': 'wait', // statement_timeout
  '57P01': 'away', // admin shutdown
  '57P02': 'away', // crash shutdown
  '57P03': 'away', // cannot connect now
  '58000': 'away',
  '58030': 'away', // system and I/O errors on the server
  // Cardinality (one row touched twice in a statement), data the server refuses, a value past a
  // limit (an index row too large): the same input fails the same way.
  '21': 'data',
  '22': 'data',
  '54': 'data',
  '23': 'constraint',
};

/** Socket-level errors from the driver: the server is out of reach. */
const SOCKET_CODES: Record<string, Cause> = {
  ECONNREFUSED: 'away',
  ECONNRESET: 'away',
  ETIMEDOUT: 'away',
  EPIPE: 'away',
  EHOSTUNREACH: 'away',
  ENOTFOUND: 'away',
  EAI_AGAIN: 'away',
};

/**
 * Errors by name: knex's pool timeout, GroupCommit's (`db/groupCommit.ts`) for a write not
 * made before its caller's deadline or refused because too many are queued behind a slow server,
 * and the outbox's for a row whose INSERT had not answered by its deadline.
 */
const NAMES: Record<string, Cause> = {
  KnexTimeoutError: 'backlog',
  DeadlineExceeded: 'backlog',
  QueueFull: 'backlog',
  MaybeRecorded: 'backlog',
};

/** pg, knex and PgBouncer report some outages by message only. */
const MESSAGES: [RegExp, Cause][] = [
  [/Query read timeout/i, 'wait'],
  [
    /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error|server conn crashed|query_wait_timeout|no more connections allowed|pgbouncer cannot connect|server login has been failing|database is shutting down|pgbouncer is shutting down/i,
    'away',
  ],
  [/Knex: Timeout acquiring a connection/i, 'backlog'],
];

/**
 * The pause before another try, by cause, in milliseconds (graphile-worker's minDelay and
 * maxDelay); jittered, since every dispatcher meets the same outage at the same moment.
 */
export const TRANSIENT_DELAYS: Record<TransientCause, DelayPolicy> = {
  conflict: exponential({ first: 50, max: 2000, jitter: 'equal' }),
  wait: exponential({ first: 100, max: 2000, jitter: 'equal' }),
  moved: exponential({ first: 10, max: 1000, jitter: 'equal' }),
  away: exponential({ first: 100, max: 2000, jitter: 'equal' }),
  backlog: exponential({ first: 250, max: 5000, jitter: 'equal' }),
};

function causeOf(err: unknown): Cause | undefined {
  const { name, code, message } = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  if (typeof name === 'string' && NAMES[name]) return NAMES[name];
  if (typeof code === 'string') {
    const cause =
      SQLSTATES[code] ?? SOCKET_CODES[code] ?? (code.length === 5 ? SQLSTATES[code.slice(0, 2)] : undefined);
    if (cause) return cause;
  }
  if (typeof message === 'string') return MESSAGES.find(([pattern]) => pattern.test(message))?.[1];
  return undefined;
}

export function classifyDbError(err: unknown): DbErrorKind {
  const cause = causeOf(err);
  if (cause === undefined) return 'other';
  return cause === 'data' || cause === 'constraint' ? cause : 'transient';
}

/** Why `err` is transient, or undefined when it is not. */
export function transientCause(err: unknown): TransientCause | undefined {
  const cause = causeOf(err);
  return cause === 'data' || cause === 'constraint' ? undefined : cause;
}

export const isTransientDbError = (err: unknown) => transientCause(err) !== undefined;

/** `retrying()`'s delay for database work: the pause `err`'s cause calls for. */
export const transientDelay = (failures: number, err: unknown) =>
  TRANSIENT_DELAYS[transientCause(err) ?? 'away'](failures);

/** A statement refused for its data or a constraint: the same input will fail again. */
export const isDataDbError = (err: unknown) => {
  const kind = classifyDbError(err);
  return kind === 'data' || kind === 'constraint';
};

/**
 * An error one item of a batch can cause for all of it: its data (`isDataDbError`), or a wait on
 * one row another transaction holds (statement or lock timeout, the driver's query timeout).
 * Splitting such a batch leaves the item at fault failing alone; the rest go through.
 */
export const isRowBoundDbError = (err: unknown) => isDataDbError(err) || transientCause(err) === 'wait';

/** The unique constraint a 23505 broke, or undefined for any other error. */
export function uniqueViolation(err: unknown): string | undefined {
  const { code, constraint } = (err ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' ? String(typeof constraint === 'string' ? constraint : '') : undefined;
}

/** The SQLSTATEs of "already exists": a database or object another process made first. */
export const isAlreadyExists = (err: unknown) => ['42P04', '23505'].includes(String((err as { code?: unknown }).code));
