/**
 * What a failure from PostgreSQL or its driver means for the caller, in one table for the whole
 * service (graphile-worker keeps the same kind of list): transient (the server is away or busy:
 * retry, or answer 503), the caller's data (a broken constraint or a value the server refuses:
 * 4xx, never retried), or anything else (a bug: log it and fail).
 */

export type DbErrorKind = 'transient' | 'constraint' | 'data' | 'other';

/** SQLSTATE classes and codes that pass: connection trouble, shutdown, serialization, lock waits. */
const TRANSIENT_SQLSTATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006', // connection exceptions
  '08P01', // protocol violation: how PgBouncer reports its own troubles (query_wait_timeout, server conn crashed, …)
  '26000',
  '42P05', // a named statement missing or already there: a transaction pooler moved the session
  '40001',
  '40P01', // serialization failure, deadlock: the transaction may simply be run again
  '53300', // too many connections
  '55P03', // lock not available
  '57014', // query canceled (statement_timeout)
  '57P01',
  '57P02',
  '57P03', // admin shutdown, crash shutdown, cannot connect now
  '58000',
  '58030', // system and I/O errors on the server
]);

/** Socket-level errors from the driver: the server is out of reach. */
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** pg and knex report some outages by message only. */
const TRANSIENT_MESSAGE =
  /Connection terminated|connection timeout|timeout expired|Query read timeout|Client has encountered a connection error|Knex: Timeout acquiring a connection|server conn crashed|query_wait_timeout|no more connections allowed|pgbouncer cannot connect|server login has been failing|database is shutting down|pgbouncer is shutting down/i;

/**
 * Errors by name: knex's pool timeout, and GroupCommit's (`db/groupCommit.ts`) for a write not
 * made before its caller's deadline or refused because too many are queued behind a slow server.
 */
const TRANSIENT_NAMES = new Set(['KnexTimeoutError', 'DeadlineExceeded', 'QueueFull']);

export function classifyDbError(err: unknown): DbErrorKind {
  const { name, code, message } = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  if (typeof name === 'string' && TRANSIENT_NAMES.has(name)) return 'transient';
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SOCKET_CODES.has(code)) return 'transient';
    // Class 21: cardinality (one row touched twice in a statement); 22: data the server refuses.
    if (code.startsWith('21') || code.startsWith('22')) return 'data';
    if (code.startsWith('23')) return 'constraint';
  }
  if (typeof message === 'string' && TRANSIENT_MESSAGE.test(message)) return 'transient';
  return 'other';
}

export const isTransientDbError = (err: unknown) => classifyDbError(err) === 'transient';

/** A statement refused for its data or a constraint: the same input will fail again. */
export const isDataDbError = (err: unknown) => {
  const kind = classifyDbError(err);
  return kind === 'data' || kind === 'constraint';
};

/** The unique constraint a 23505 broke, or undefined for any other error. */
export function uniqueViolation(err: unknown): string | undefined {
  const { code, constraint } = (err ?? {}) as { code?: unknown; constraint?: unknown };
  return code === '23505' ? String(typeof constraint === 'string' ? constraint : '') : undefined;
}

/** The SQLSTATEs of "already exists": a database or object another process made first. */
export const isAlreadyExists = (err: unknown) => ['42P04', '23505'].includes(String((err as { code?: unknown }).code));
