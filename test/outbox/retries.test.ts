/**
 * Retries on real PostgreSQL and a real SMTP server (the policy's pure parts:
 * test/unit/outbox/retryPolicy.test.ts): temporary failures retry by time, permanent ones go dead at
 * once, attempts are counted at the claim, and a row whose lease keeps lapsing (it crashes the
 * dispatcher) goes dead.
 */
import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { claimDue, markStartedMany, retry } from '../../src/outbox/queries.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch } from '../helpers/flow.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('retries', { clean: ['outbox'] });

const fastForward = () =>
  tdb
    .db('outbox')
    .whereIn('status', ['pending', 'sending'])
    .update({ run_after: tdb.db.raw("now() - interval '1 second'") });

test.serial('a 550 refusal goes dead at once, with the reply in last_error', async (t) => {
  const smtp = await startSmtpSink(() => 550);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, smtpEnv(smtp));
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  t.is((await dispatch(tdb.db, config)).failed, 1);
  const row = await tdb.db('outbox').first();
  t.like(row, { status: 'dead', attempts: 1, locked_by: null });
  t.truthy(row.processed_at);
  t.regex(row.last_error, /refused the message at DATA: 550/);
  t.is(smtp.attempts, 1);
});

test.serial('a 451 refusal is retried past max_attempts until GIVE_UP_AFTER, then dead', async (t) => {
  const smtp = await startSmtpSink(() => 451);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__MAX_ATTEMPTS: '2',
    DUNDIE_DISPATCHER__GIVE_UP_AFTER: '1h',
  });
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  for (let i = 0; i < 4; i++) {
    await dispatch(tdb.db, config);
    await fastForward();
  }
  let row = await tdb.db('outbox').first();
  t.like(row, { status: 'pending', attempts: 4, max_attempts: 2 }, 'still trying after more tries than max_attempts');
  t.regex(row.last_error, /451/);

  // An hour later the next failure is the last.
  await tdb.db('outbox').update({ created_at: tdb.db.raw("now() - interval '1 hour'") });
  await dispatch(tdb.db, config);
  row = await tdb.db('outbox').first();
  t.like(row, { status: 'dead', attempts: 5 });
  t.regex(row.last_error, /^gave up after 01:00:00: .*451/);
  t.is(smtp.attempts, 5);
});

test.serial('a dead row an operator retries a day later gets a whole GIVE_UP_AFTER of tries again', async (t) => {
  const smtp = await startSmtpSink(() => 451);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__GIVE_UP_AFTER: '1h' });
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  await tdb.db('outbox').update({ created_at: tdb.db.raw("now() - interval '1 day'") });
  await dispatch(tdb.db, config);
  t.is((await tdb.db('outbox').first()).status, 'dead', 'gave up: queued a day ago');

  t.is(await retry(tdb.db, { status: 'dead' }), 1);
  for (let i = 0; i < 3; i++) {
    await dispatch(tdb.db, config);
    await fastForward();
  }
  const row = await tdb.db('outbox').first();
  t.like(row, { status: 'pending', attempts: 3 }, 'still trying after the retry, though queued a day ago');
  t.truthy(row.retried_at);
  t.is(smtp.attempts, 4);
});

test.serial('a retry is never scheduled past the give-up time', async (t) => {
  const smtp = await startSmtpSink(() => 451);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '3600',
    DUNDIE_DISPATCHER__GIVE_UP_AFTER: '60s',
  });
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  await tdb.db('outbox').update({ attempts: 3 });
  await dispatch(tdb.db, config);
  const row = await tdb.db('outbox').first();
  t.is(row.status, 'pending');
  t.true(
    new Date(row.run_after).getTime() - new Date(row.created_at).getTime() <= 60_000 + 5,
    'the last try falls on the give-up time',
  );
});

test.serial('the attempt is counted when the row is claimed', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  const [row] = await claimDue(tdb.db, 'worker', 10, 30);
  t.is(row!.attempts, 1);
  t.is((await tdb.db('outbox').first()).attempts, 1);
});

test.serial(
  'a row reclaimed after its lease lapsed max_attempts times while started goes dead: "crashed the dispatcher"',
  async (t) => {
    const config = testConfig(tdb.url, { DUNDIE_DISPATCHER__MAX_ATTEMPTS: '3' });
    const user = await makeUser(tdb.db);
    await requestPwdReset(tdb.db, config, user.email);
    const other = await makeUser(tdb.db);
    await requestPwdReset(tdb.db, config, other.email);
    // Each dispatcher claims the first row and dies with it (its lease lapses: fast-forwarded here).
    for (let crash = 1; crash <= 3; crash++) {
      const [claimed] = await claimDue(tdb.db, `doomed-${crash}`, 1, 30);
      t.like(claimed, { attempts: crash, lease_lapses: crash - 1 }, `claim ${crash}`);
      // A suspect is marked started when its dispatcher begins it (the first claim marks it at once).
      await markStartedMany(tdb.db, [claimed!.id], `doomed-${crash}`);
      await fastForward();
    }
    const claimed = await claimDue(tdb.db, 'survivor', 2, 30);
    const rows = await tdb.db('outbox').orderBy('id');
    t.like(rows[0], { status: 'dead', attempts: 3, lease_lapses: 3, locked_by: null });
    t.regex(rows[0].last_error, /crashed the dispatcher: its lease lapsed 3 times .*doomed-3/);
    t.truthy(rows[0].processed_at);
    t.deepEqual(
      claimed.map((r) => r.id),
      [String(rows[1].id)],
      'only the other row is claimed',
    );
  },
);

test.serial('a row handed back unstarted at shutdown does not count the try', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  const { release } = await import('../../src/outbox/queries.ts');
  const [row] = await claimDue(tdb.db, 'stopping', 10, 30);
  await release(tdb.db, [row!.id], 'stopping');
  t.like(await tdb.db('outbox').first(), { status: 'pending', attempts: 0 });
});

test.serial(
  'a refused reset e-mail does not hold the cooldown: the request after recovery is sent at once, and the pair sends one e-mail',
  async (t) => {
    let down = true;
    const smtp = await startSmtpSink(() => down && 451);
    t.teardown(() => smtp.close());
    const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60' });
    const user = await makeUser(tdb.db);

    await requestPwdReset(tdb.db, config, user.email);
    t.is((await dispatch(tdb.db, config)).failed, 1, 'SMTP refuses during the outage');
    const [first] = await tdb.db('outbox').orderBy('id');
    t.like(first, { status: 'pending' });
    t.true(new Date(first.run_after) > new Date(), 'the first row waits for its backoff');

    down = false;
    await requestPwdReset(tdb.db, config, user.email.toUpperCase());
    t.is((await dispatch(tdb.db, config)).sent, 1, 'the second request is sent at once');
    t.deepEqual(smtp.recipients, [user.email]);

    // The first row's retry comes later, and finds a newer request served.
    await fastForward();
    await dispatch(tdb.db, config);
    const rows = await tdb.db('outbox').orderBy('id');
    t.like(rows[0], { status: 'skipped', last_error: 'superseded by a newer request' });
    t.like(rows[1], { status: 'sent' });
    t.is(smtp.recipients.length, 1, 'one e-mail for the pair');
  },
);

test.serial('a failure that may have delivered the e-mail (a timeout after DATA) keeps the cooldown', async (t) => {
  const { surelyNotDelivered } = await import('../../src/email/refusals.ts');
  t.true(surelyNotDelivered({ code: 'EMESSAGE', responseCode: 451, command: 'DATA' }), 'a refusal at DATA');
  t.true(surelyNotDelivered({ code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' }), 'no connection');
  t.false(surelyNotDelivered({ code: 'ETIMEDOUT', command: 'DATA' }), 'no answer to DATA');
  t.false(surelyNotDelivered({ code: 'ECONNECTION', command: 'CONN' }), 'closed mid-conversation');
});
