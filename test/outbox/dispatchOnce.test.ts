import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, makeUsers } from '../helpers/factories.ts';
import { dispatch } from '../helpers/flow.ts';
import { smtpEnv, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('dispatcher', { clean: ['outbox'] });

const smtpConfig = (smtp: SmtpSink, env: Record<string, string> = {}) =>
  testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '1',
    ...env,
  });

/** Makes every row due now, as if its backoff had run out. */
const fastForward = () =>
  tdb
    .db('outbox')
    .whereIn('status', ['pending'])
    .update({ run_after: tdb.db.raw("now() - interval '1 second'") });

test.serial('SMTP refusing then accepting: the row is retried and sent', async (t) => {
  const smtp = await startSmtpSink((n) => n === 1);
  t.teardown(() => smtp.close());
  const config = smtpConfig(smtp);
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);

  const first = await dispatch(tdb.db, config);
  t.is(first.failed, 1);
  let row = await tdb.db('outbox').first();
  t.is(row.status, 'pending');
  t.is(row.attempts, 1);
  t.regex(row.last_error, /451|mailbox unavailable/);
  t.true(new Date(row.run_after).getTime() > Date.now(), 'backoff pushes run_after into the future');
  t.is((await dispatch(tdb.db, config)).claimed, 0, 'not due again before the backoff');

  await fastForward();
  const second = await dispatch(tdb.db, config);
  t.is(second.sent, 1);
  row = await tdb.db('outbox').first();
  t.is(row.status, 'sent');
  t.is(row.attempts, 2);
  t.is(row.last_error, null);
  t.is(smtp.messages.length, 1);
});

// Temporary failures are retried by time (GIVE_UP_AFTER), not count; see test/outbox/retries.test.ts.
test.serial(
  'SMTP always refusing: backoff within a growing ceiling, dead once the row is older than GIVE_UP_AFTER',
  async (t) => {
    const smtp = await startSmtpSink(() => true);
    t.teardown(() => smtp.close());
    const config = smtpConfig(smtp, {
      DUNDIE_DISPATCHER__GIVE_UP_AFTER: '1h',
      DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '10',
    });
    const user = await makeUser(tdb.db);
    await requestPwdReset(tdb.db, config, user.email);

    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await dispatch(tdb.db, config);
      const row = await tdb.db('outbox').first();
      delays.push((new Date(row.run_after).getTime() - new Date(row.updated_at).getTime()) / 1000);
      await fastForward();
    }
    t.true(delays[0]! >= 1 && delays[0]! <= 10.01, `first retry within 10 s (${delays[0]})`);
    t.true(delays[1]! >= 1 && delays[1]! <= 20.01, `second within 20 s (${delays[1]})`);
    t.is((await tdb.db('outbox').first()).status, 'pending');
    await tdb.db('outbox').update({ created_at: tdb.db.raw("now() - interval '2 hours'") });
    await dispatch(tdb.db, config);
    const row = await tdb.db('outbox').first();
    t.is(row.status, 'dead');
    t.is(row.attempts, 4);
    t.truthy(row.processed_at);
    t.regex(row.last_error, /gave up after .*mailbox unavailable/);
    await fastForward();
    t.is((await dispatch(tdb.db, config)).claimed, 0, 'a dead row is never claimed again');
    t.is(smtp.attempts, 4);
  },
);

test.serial('an unreachable SMTP server counts as a failed attempt, nothing lost', async (t) => {
  const smtp = await startSmtpSink();
  await smtp.close();
  const config = smtpConfig(smtp, { DUNDIE_EMAIL__TIMEOUT_SECONDS: '2' });
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  t.is((await dispatch(tdb.db, config)).failed, 1);
  const row = await tdb.db('outbox').first();
  t.is(row.status, 'pending');
  t.regex(row.last_error, /ECONNREFUSED|connect/i);
});

test.serial('two dispatchers at once over 300 rows send each exactly once', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = smtpConfig(smtp, { DUNDIE_DISPATCHER__BATCH_SIZE: '7' });
  const users = await makeUsers(tdb.db, 30);
  for (let i = 0; i < 300; i++) await requestPwdReset(tdb.db, config, users[i % users.length]!.email);

  const [a, b] = await Promise.all([dispatch(tdb.db, config, 'worker-a'), dispatch(tdb.db, config, 'worker-b')]);
  t.is(a.sent + b.sent, 300);
  t.true(a.sent > 0 && b.sent > 0, `both dispatchers took work (a ${a.sent}, b ${b.sent})`);
  t.is(smtp.messages.length, 300);
  const statuses: { status: string; n: string }[] = await tdb
    .db('outbox')
    .select('status')
    .count({ n: '*' })
    .groupBy('status');
  t.deepEqual(
    statuses.map((s) => [s.status, Number(s.n)]),
    [['sent', 300]],
  );
});

test.serial('a row whose lease lapsed is claimed again, and the old holder cannot finish it', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_DISPATCHER__LEASE_SECONDS: '1' });
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  const { claimDue, finishMany } = await import('../../src/outbox/queries.ts');
  const [row] = await claimDue(tdb.db, 'crashed-worker', 10, 1);
  t.truthy(row);
  t.is((await claimDue(tdb.db, 'other', 10, 60)).length, 0, 'held while the lease runs');
  // The holder crashed and its lease ran out (made so explicitly, rather than by waiting).
  await tdb
    .db('outbox')
    .where({ id: row!.id })
    .update({
      locked_until: tdb.db.raw("now() - interval '1 second'"),
      run_after: tdb.db.raw("now() - interval '1 second'"),
    });
  const [again] = await claimDue(tdb.db, 'other', 10, 60);
  t.is(again?.id, row!.id);
  const sent = { id: row!.id, status: 'sent', reason: null } as const;
  t.deepEqual(await finishMany(tdb.db, 'crashed-worker', [sent]), [false]);
  t.deepEqual(await finishMany(tdb.db, 'other', [sent]), [true]);
});

test.serial('rows that finish together share one UPDATE, sent and skipped each recorded as its own', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = smtpConfig(smtp, { DUNDIE_DISPATCHER__BATCH_SIZE: '40', DUNDIE_DISPATCHER__CONCURRENCY: '8' });
  const users = await makeUsers(tdb.db, 30);
  for (const user of users) await requestPwdReset(tdb.db, config, user.email);
  for (let i = 0; i < 10; i++) await requestPwdReset(tdb.db, config, `nobody-${i}@dm.com`);

  let finishes = 0;
  const onQuery = (q: { sql: string }) => /update outbox o\s+set status = f\.status/i.test(q.sql) && finishes++;
  tdb.db.on('query', onQuery);
  const result = await dispatch(tdb.db, config).finally(() => tdb.db.off('query', onQuery));

  t.like(result, { claimed: 40, sent: 30, skipped: 10, failed: 0 });
  t.true(finishes > 0 && finishes < 40, `${finishes} UPDATEs for 40 finished rows`);
  const rows = await tdb
    .db('outbox')
    .select('payload', 'status', 'attempts', 'last_error', 'locked_by', 'processed_at');
  for (const row of rows) {
    const known = !row.payload.email.startsWith('nobody-');
    t.like(
      row,
      known
        ? { status: 'sent', attempts: 1, last_error: null, locked_by: null }
        : { status: 'skipped', attempts: 1, last_error: 'no user with this email', locked_by: null },
    );
    t.truthy(row.processed_at);
  }
  t.is(smtp.messages.length, 30);
});

test.serial('one address several times among rows in flight: with the cooldown off, every one is sent', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = smtpConfig(smtp, {
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '0',
    DUNDIE_DISPATCHER__CONCURRENCY: '8',
  });
  const user = await makeUser(tdb.db);
  // Mixed case too: PostgreSQL's lower() makes them one slot, so they cannot share a statement.
  for (let i = 0; i < 8; i++) await requestPwdReset(tdb.db, config, i % 2 ? user.email.toUpperCase() : user.email);
  t.like(await dispatch(tdb.db, config), { claimed: 8, sent: 8, failed: 0 });
  t.is(smtp.messages.length, 8);
});
