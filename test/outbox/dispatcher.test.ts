import test from 'ava';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { housekeeping } from '../../src/commands/housekeeping.ts';
import { listenForOutbox } from '../../src/outbox/listener.ts';
import { createEmailDispatcher } from '../../src/tasks/emailDispatcher.ts';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { BUSY_CLAIM_ROWS } from '../../src/outbox/dispatcher.ts';
import { summary } from '../../src/outbox/queries.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { countByStatus, outboxListened, waitUntil } from '../helpers/wait.ts';
import { makeUsers } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('outbox', { clean: ['outbox'] });

const NEVER = '0 0 0 1 1 *'; // midnight on January 1st: the safety net stays out of the way

function runDispatcher(config: ReturnType<typeof testConfig>, listen = true) {
  const metrics = createMetrics(tdb.db);
  const dispatcher = createEmailDispatcher(
    { db: tdb.db, config, log: createLogger(config), metrics },
    { listen: listen ? tdb.listen : undefined },
  );
  return { dispatcher, metrics, stop: () => dispatcher.stop() };
}

test.serial('a request wakes the dispatcher through NOTIFY, with no cron tick', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  const [user] = await makeUsers(tdb.db, 1);
  const { stop } = runDispatcher(config);
  t.teardown(stop);
  await waitUntil(() => outboxListened(tdb.db), 'the dispatcher to LISTEN');
  const id = await requestPwdReset(tdb.db, config, user!.email);
  // The cron never fires: any delivery at all came from the notification. The bound is generous
  // for a loaded machine and a pooler in between.
  await smtp.waitFor(1, 10_000);
  await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be recorded sent');
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'sent', attempts: 1, last_error: null });
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial(
  'a notification that comes while a claim is under way is acted on, though that claim found nothing',
  async (t) => {
    const smtp = await startSmtpSink();
    t.teardown(() => smtp.close());
    const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
    const [user] = await makeUsers(tdb.db, 1);
    // The first claim pauses after taking its snapshot, so that the row commits while it runs.
    await tdb.db.raw(`
    CREATE SEQUENCE claim_pauses;
    CREATE FUNCTION pause_first_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('claim_pauses') = 1 THEN PERFORM pg_sleep(1); END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER pause_first_claim BEFORE UPDATE ON outbox FOR EACH STATEMENT EXECUTE FUNCTION pause_first_claim();
  `);
    t.teardown(() =>
      tdb.db.raw(
        'DROP TRIGGER pause_first_claim ON outbox; DROP FUNCTION pause_first_claim(); DROP SEQUENCE claim_pauses',
      ),
    );
    const { dispatcher, stop } = runDispatcher(config, false);
    t.teardown(stop);
    const paused = async () =>
      (await tdb.db.raw<{ rows: unknown[] }>("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")).rows
        .length > 0;
    await waitUntil(paused, 'the first claim to pause');
    await requestPwdReset(tdb.db, config, user!.email);
    dispatcher.wake(); // what the row's NOTIFY does
    await smtp.waitFor(1);
    t.deepEqual(smtp.recipients, [user!.email]);
  },
);

test.serial('without LISTEN only the cron net claims', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  const [user] = await makeUsers(tdb.db, 1);
  // Claims sent, and claims answered: the dispatcher claims once as it starts, and the row is
  // queued after that claim has answered.
  let claimsSent = 0;
  let claimsAnswered = 0;
  const isClaim = (query: { sql?: string }) => query.sql?.includes('WITH due') === true;
  const onQuery = (query: { sql?: string }) => void (isClaim(query) && claimsSent++);
  const onResponse = (_response: unknown, query: { sql?: string }) => void (isClaim(query) && claimsAnswered++);
  tdb.db.on('query', onQuery).on('query-response', onResponse);
  t.teardown(() => void tdb.db.off('query', onQuery).off('query-response', onResponse));
  // A witness LISTENing as a dispatcher would: it sees the row's NOTIFY when a listening
  // dispatcher would have been woken by it. It is woken once as it starts listening.
  let notified = 0;
  const witness = listenForOutbox(tdb.listen, () => notified++, createLogger(config));
  t.teardown(() => witness.close());
  await waitUntil(() => notified === 1, 'the witness to LISTEN');
  const { dispatcher, stop } = runDispatcher(config, false);
  t.teardown(stop);
  await waitUntil(() => claimsAnswered === 1, 'the start-up claim');
  const id = await requestPwdReset(tdb.db, config, user!.email);
  await waitUntil(() => notified === 2, "the row's notification to reach a listener");
  // One round trip more: a dispatcher woken with the witness would have sent its claim by now.
  await tdb.db.raw('SELECT 1');
  t.is(claimsSent, 1, 'no notification, no tick: no claim after the start-up one');
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'pending', attempts: 0, locked_by: null });
  t.is(smtp.messages.length, 0);
  dispatcher.wake(); // what the cron tick does
  await smtp.waitFor(1);
  await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be recorded sent');
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'sent', attempts: 1 });
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial(
  'after a claim of 8 rows or more the next claim waits for the gap; after a smaller one it does not',
  async (t) => {
    // Long enough that no claim's own round trip could account for it.
    const gapMs = 300;
    const config = testConfig(tdb.url, {
      DUNDIE_DISPATCHER__CRON: NEVER,
      DUNDIE_DISPATCHER__BUSY_CLAIM_GAP_MS: String(gapMs),
    });
    // Addresses with no account: each row is skipped, no e-mail needed.
    const rows = (n: number, label: string) =>
      tdb.db('outbox').insert(
        Array.from({ length: n }, (_, i) => ({
          kind: 'pwd_reset_email',
          payload: { email: `${label}-${i}@nowhere.test` },
        })),
      );
    // When each claim was sent; the claim numbered `wakeAfter`, once answered, wakes the dispatcher
    // at once, as a row committed meanwhile would.
    const claims: number[] = [];
    let wakeAfter = -1;
    const isClaim = (query: { sql?: string }) => query.sql?.includes('WITH due') === true;
    const onQuery = (query: { sql?: string }) => void (isClaim(query) && claims.push(performance.now()));
    const onResponse = (_response: unknown, query: { sql?: string }) => {
      // Never for the start-up claim (`wakeAfter` starts at -1): `dispatcher` is assigned by then.
      if (isClaim(query) && claims.length === wakeAfter + 1) dispatcher.wake();
    };
    tdb.db.on('query', onQuery).on('query-response', onResponse);
    t.teardown(() => void tdb.db.off('query', onQuery).off('query-response', onResponse));
    const { dispatcher, stop } = runDispatcher(config, false);
    t.teardown(stop);
    await waitUntil(() => dispatcher.mode === 'drained', 'the start-up claim');

    await rows(BUSY_CLAIM_ROWS, 'busy');
    wakeAfter = claims.length;
    const wokeAt = performance.now();
    dispatcher.wake();
    await waitUntil(() => claims.length > wakeAfter + 1, 'the claim after the busy one');
    // The busy claim began after `wokeAt`; the next one no sooner than the gap after it.
    t.true(claims[wakeAfter + 1]! - wokeAt >= gapMs, `${claims[wakeAfter + 1]! - wokeAt} ms after the wake`);
    await waitUntil(async () => (await countByStatus(tdb.db, 'skipped')) === BUSY_CLAIM_ROWS, 'the busy rows to end');
    await waitUntil(() => dispatcher.mode === 'drained', 'the dispatcher to drain');

    await rows(1, 'lone');
    wakeAfter = claims.length;
    dispatcher.wake();
    await waitUntil(() => claims.length > wakeAfter + 1, 'the claim after the lone one');
    t.true(claims[wakeAfter + 1]! - claims[wakeAfter]! < gapMs, 'no gap after a claim of one row');
    await waitUntil(
      async () => (await countByStatus(tdb.db, 'skipped')) === BUSY_CLAIM_ROWS + 1,
      'the lone row to end',
    );
  },
);

test.serial('a failed row is tried again when its backoff runs out, with no tick and no notification', async (t) => {
  // Refuses the first message (451), then takes every one.
  const smtp = await startSmtpSink((n) => n === 1);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__CRON: NEVER,
    DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '1',
  });
  const [user] = await makeUsers(tdb.db, 1);
  const id = await requestPwdReset(tdb.db, config, user!.email);
  // Without LISTEN: the start-up claim takes the row; only the wake-up at its retry can take it again.
  const { stop } = runDispatcher(config, false);
  t.teardown(stop);
  await waitUntil(async () => (await tdb.db('outbox').where({ id }).first()).attempts === 1, 'the first try');
  await waitUntil(async () => (await tdb.db('outbox').where({ id }).first()).status === 'sent', 'the retry', 10_000);
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'sent', attempts: 2 });
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial('claims that come fast ask when the next row is due at most every 250 ms', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  let claims = 0;
  let asked = 0;
  const onQuery = (query: { sql?: string; options?: { name?: string } }) => {
    if (query.sql?.includes('WITH due')) claims++;
    if (query.options?.name === 'dundie_outbox_next_due') asked++;
  };
  tdb.db.on('query', onQuery);
  t.teardown(() => void tdb.db.off('query', onQuery));
  const { dispatcher, stop } = runDispatcher(config, false);
  t.teardown(stop);
  // Each claim finds nothing due, which is when the dispatcher asks.
  const started = performance.now();
  while (claims < 20) {
    await waitUntil(() => dispatcher.mode === 'drained', 'the claim to find nothing due');
    dispatcher.wake();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const turns = Math.ceil((performance.now() - started) / 250);
  t.true(asked >= 1, 'it still asks');
  t.true(asked <= turns + 1, `${asked} questions for ${claims} claims in ${turns} turns`);
});

test.serial('a row that comes due while the next-due question waits for its turn is woken for', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  const [user] = await makeUsers(tdb.db, 1);
  let asked = 0;
  const onQuery = (query: { options?: { name?: string } }) =>
    void (query.options?.name === 'dundie_outbox_next_due' && asked++);
  tdb.db.on('query', onQuery);
  t.teardown(() => void tdb.db.off('query', onQuery));
  const { dispatcher, stop } = runDispatcher(config, false);
  t.teardown(stop);
  await waitUntil(() => asked === 1, 'the question after the start-up claim');
  // A retry due in 150 ms (the last try, cut short by its give-up time, can be this close).
  const id = await requestPwdReset(tdb.db, config, user!.email);
  await tdb
    .db('outbox')
    .where({ id })
    .update({ run_after: tdb.db.raw("now() + interval '150 milliseconds'") });
  // A claim before it is due: the question it asks for waits for its turn, and by then the row is due.
  dispatcher.wake();
  await smtp.waitFor(1, 10_000);
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial('one slow row holds up no other', async (t) => {
  const slow = 'slow@dm.com';
  const smtp = await startSmtpSink(
    () => false,
    (to) => (to === slow ? 6000 : 0),
  );
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__CRON: NEVER,
    DUNDIE_DISPATCHER__CONCURRENCY: '4',
  });
  const users = await makeUsers(tdb.db, 20);
  await tdb.db('users').where({ id: users[0]!.id }).update({ email: slow });
  const { stop } = runDispatcher(config);
  t.teardown(stop);
  await waitUntil(() => outboxListened(tdb.db), 'the dispatcher to LISTEN');
  await requestPwdReset(tdb.db, config, slow);
  for (const u of users.slice(1)) await requestPwdReset(tdb.db, config, u.email);
  await smtp.waitFor(19, 10_000);
  t.false(
    smtp.messages.some((m) => m.subject && (Array.isArray(m.to) ? false : m.to?.text === slow)),
    'the other 19 went out while the slow one was still in flight',
  );
  await smtp.waitFor(20, 10_000);
});

test.serial('a once run stopped midway finishes its sends in flight and hands back the rest', async (t) => {
  const smtp = await startSmtpSink(() => false, 500);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__BATCH_SIZE: '10',
    DUNDIE_DISPATCHER__CONCURRENCY: '2',
  });
  const users = await makeUsers(tdb.db, 10);
  for (const u of users) await requestPwdReset(tdb.db, config, u.email);
  const dispatcher = createEmailDispatcher(
    { db: tdb.db, config, log: createLogger(config), workerId: 'stopping' },
    { continuous: false },
  );
  await waitUntil(() => smtp.attempts >= 2, 'two messages on their connections');
  await dispatcher.stop();
  const result = await dispatcher.done;
  t.is(result.claimed, 10);
  t.is(result.sent, 2, 'the two in flight finished');
  t.is(result.released, 8);
  const pending = await tdb.db('outbox').where({ status: 'pending' }).whereNull('locked_by');
  t.is(pending.length, 8, 'handed back: pending, unlocked, due now');
});

test.serial(
  'the running dispatcher claims a batch ahead; on stop it finishes two in flight and hands back the rest',
  async (t) => {
    const smtp = await startSmtpSink(() => false, 500);
    t.teardown(() => smtp.close());
    const config = testConfig(tdb.url, {
      ...smtpEnv(smtp),
      DUNDIE_DISPATCHER__CRON: NEVER,
      DUNDIE_DISPATCHER__BATCH_SIZE: '10',
      DUNDIE_DISPATCHER__CONCURRENCY: '2',
    });
    const users = await makeUsers(tdb.db, 10);
    for (const u of users) await requestPwdReset(tdb.db, config, u.email);
    const { stop } = runDispatcher(config, false);
    await waitUntil(async () => (await countByStatus(tdb.db, 'sending')) > 0, 'the first claim');
    t.is(await countByStatus(tdb.db, 'sending'), 10, 'one claim took the whole batch');
    // Both on their SMTP connections: a row still short of one would be handed back too.
    await waitUntil(() => smtp.attempts >= 2, 'two messages on their connections');
    await stop();
    const byStatus = Object.fromEntries((await summary(tdb.db)).map((r) => [r.status, r.count]));
    t.like(byStatus, { sent: 2, pending: 8 });
    t.is(byStatus.sending, undefined);
    t.is(smtp.messages.length, 2);
    t.is(
      (
        await tdb
          .db('outbox')
          .where({ status: 'pending' })
          .whereNull('locked_by')
          .where('run_after', '<=', tdb.db.fn.now())
      ).length,
      8,
      'handed back: unlocked, due now',
    );
  },
);

test.serial(
  'on stop, rows waiting for an SMTP connection are handed back at once, their tries not counted',
  async (t) => {
    const smtp = await startSmtpSink(() => false, 700);
    t.teardown(() => smtp.close());
    const config = testConfig(tdb.url, {
      ...smtpEnv(smtp),
      DUNDIE_DISPATCHER__CRON: NEVER,
      DUNDIE_DISPATCHER__BATCH_SIZE: '10',
      DUNDIE_DISPATCHER__CONCURRENCY: '10',
      // Ten rows in flight, two SMTP connections: eight wait for one.
      DUNDIE_EMAIL__SMTP_CONNECTIONS: '2',
    });
    const users = await makeUsers(tdb.db, 10);
    for (const u of users) await requestPwdReset(tdb.db, config, u.email);
    const dispatcher = createEmailDispatcher({ db: tdb.db, config, log: createLogger(config) });
    await waitUntil(() => smtp.attempts >= 2, 'two messages on their connections');
    await dispatcher.stop();
    const byStatus = Object.fromEntries((await summary(tdb.db)).map((r) => [r.status, r.count]));
    t.like(byStatus, { sent: 2, pending: 8 });
    t.is(byStatus.sending, undefined);
    t.deepEqual(
      await tdb.db('outbox').where({ status: 'pending' }).distinct('attempts').pluck('attempts'),
      [0],
      'handed back: the claim not counted as a try',
    );
    t.is(smtp.recipients.length, 2);
  },
);

test.serial('housekeeping deletes old sent and skipped rows, keeps dead ones and recent ones', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_OUTBOX__RETENTION_DAYS: '7' });
  const old = tdb.db.raw("now() - interval '8 days'");
  await tdb.db('outbox').insert([
    { kind: 'pwd_reset_email', payload: { email: 'a@dm.com' }, status: 'sent', processed_at: old },
    { kind: 'pwd_reset_email', payload: { email: 'b@dm.com' }, status: 'skipped', processed_at: old },
    { kind: 'pwd_reset_email', payload: { email: 'c@dm.com' }, status: 'dead', processed_at: old },
    { kind: 'pwd_reset_email', payload: { email: 'd@dm.com' }, status: 'sent', processed_at: tdb.db.fn.now() },
    { kind: 'pwd_reset_email', payload: { email: 'e@dm.com' }, status: 'pending' },
  ]);
  const removed = await housekeeping(tdb.db, config);
  t.is(removed.outboxRows, 2);
  const left = (await tdb.db('outbox').orderBy('id').select('payload')).map((r) => r.payload.email);
  t.deepEqual(left, ['c@dm.com', 'd@dm.com', 'e@dm.com']);
});

test.serial('outbox_summary gives count, oldest and next due per status', async (t) => {
  await tdb.db('outbox').insert([
    {
      kind: 'pwd_reset_email',
      payload: { email: 'a@dm.com' },
      status: 'pending',
      created_at: tdb.db.raw("now() - interval '1 hour'"),
    },
    { kind: 'pwd_reset_email', payload: { email: 'b@dm.com' }, status: 'pending' },
    { kind: 'pwd_reset_email', payload: { email: 'c@dm.com' }, status: 'dead' },
  ]);
  const rows = await summary(tdb.db);
  t.deepEqual(
    rows.map((r) => [r.status, r.count]),
    [
      ['dead', 1],
      ['pending', 2],
    ],
  );
  t.truthy(rows.find((r) => r.status === 'pending')!.next_run_after);
  t.is(rows.find((r) => r.status === 'dead')!.next_run_after, null);
});

test.serial('/ready answers while the database does; /metrics shows rows by status and sends', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, smtpEnv(smtp));
  const api = await startApi(config, { api: true, dispatcher: true });
  t.teardown(() => api.service.stop());
  t.deepEqual((await api.request('GET', '/ready')).body, { status: 'ready' });
  const [user] = await makeUsers(tdb.db, 1);
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user!.email } });
  await smtp.waitFor(1);
  await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be recorded sent');
  // With both roles the dispatcher runs on its own thread and forwards its figures in batches.
  const scrape = () => fetch(`${api.metricsBase}/metrics`).then((r) => r.text());
  await waitUntil(
    async () => /dundie_emails_sent_total\{kind="pwd_reset_email"\} 1/.test(await scrape()),
    'the send to reach /metrics',
  );
  const metrics = await scrape();
  t.regex(metrics, /dundie_outbox_rows\{status="sent"\} 1/);
  t.regex(metrics, /dundie_emails_sent_total\{kind="pwd_reset_email"\} 1/);
  t.regex(metrics, /dundie_outbox_delay_seconds_count\{kind="pwd_reset_email"\} 1/);
  t.regex(metrics, /dundie_email_send_seconds_bucket/);
});
