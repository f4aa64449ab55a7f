import test from 'ava';
import {
  classifyDbError,
  isRowBoundDbError,
  TRANSIENT_DELAYS,
  transientCause,
  transientDelay,
  uniqueViolation,
} from '../../../src/db/errors.ts';

const pgError = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });

test('the server going away, refusing connections or timing out is transient', (t) => {
  for (const err of [
    pgError('57P01'),
    pgError('08006'),
    pgError('ECONNREFUSED'),
    pgError('57014'),
    Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), {
      name: 'KnexTimeoutError',
    }),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout expired'),
  ]) {
    t.is(classifyDbError(err), 'transient', err.message);
  }
});

test('what a pooler answers when it cannot serve is transient', (t) => {
  for (const err of [
    pgError('08P01', { message: 'query_wait_timeout' }),
    Object.assign(new Error('server conn crashed?'), { code: '08P01' }),
    new Error('no more connections allowed (max_client_conn)'),
    pgError('26000', { message: 'prepared statement "dundie_outbox_enqueue_many" does not exist' }),
    pgError('42P05', { message: 'prepared statement "dundie_outbox_enqueue_many" already exists' }),
  ]) {
    t.is(classifyDbError(err), 'transient', err.message);
  }
});

test('values the server refuses are data errors, broken constraints constraint errors', (t) => {
  t.is(classifyDbError(pgError('22P05')), 'data');
  t.is(classifyDbError(pgError('21000')), 'data');
  t.is(classifyDbError(pgError('23505')), 'constraint');
});

test('a bug (a syntax error, a missing column, a TypeError) is neither: never retried', (t) => {
  t.is(classifyDbError(pgError('42601')), 'other');
  t.is(classifyDbError(pgError('42703')), 'other');
  t.is(classifyDbError(new TypeError('x is undefined')), 'other');
  t.is(classifyDbError(undefined), 'other');
});

test('a unique violation names its constraint', (t) => {
  t.is(uniqueViolation(pgError('23505', { constraint: 'users_email_lower_key' })), 'users_email_lower_key');
  t.is(uniqueViolation(pgError('23503')), undefined);
});

test('each transient cause has its own pause: a conflict is retried sooner than a server that is away', (t) => {
  t.is(transientCause(pgError('40001')), 'conflict');
  t.is(transientCause(pgError('40P01')), 'conflict');
  t.is(transientCause(pgError('57P01')), 'away');
  t.is(transientCause(pgError('ECONNREFUSED')), 'away');
  t.is(transientCause(pgError('55P03')), 'wait');
  t.is(transientCause(new Error('Query read timeout')), 'wait');
  t.is(transientCause(pgError('26000')), 'moved');
  t.is(transientCause(Object.assign(new Error('too many queued'), { name: 'QueueFull' })), 'backlog');
  t.is(transientCause(pgError('23505')), undefined);
  t.is(transientCause(new TypeError('x is undefined')), undefined);
  for (const failures of [1, 2, 3]) {
    t.true(TRANSIENT_DELAYS.conflict(failures) <= TRANSIENT_DELAYS.away(failures));
    t.true(TRANSIENT_DELAYS.away(failures) <= TRANSIENT_DELAYS.backlog(failures));
  }
  t.true(transientDelay(20, pgError('57P01')) <= 2000, 'a restart is polled at least every two seconds');
});

test('a transaction in doubt (08007) is not transient: it may have committed, and must not run twice', (t) => {
  t.is(classifyDbError(pgError('08007')), 'other');
});

test('lock and statement timeouts split a batch; a server that is away does not', (t) => {
  t.true(isRowBoundDbError(pgError('57014')));
  t.true(isRowBoundDbError(pgError('55P03')));
  t.true(isRowBoundDbError(new Error('Query read timeout')));
  t.true(isRowBoundDbError(pgError('22P05')));
  t.false(isRowBoundDbError(pgError('57P01')));
  t.false(isRowBoundDbError(pgError('40001')));
});
