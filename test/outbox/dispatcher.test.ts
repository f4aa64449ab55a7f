import test from 'ava';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { housekeeping } from '../../src/commands/housekeeping.ts';
import { Dispatcher } from '../../src/outbox/dispatcher.ts';
import { dispatchOnce } from '../../src/outbox/dispatchOnce.ts';
import { emailWorker } from '../../src/tasks/worker.ts';
import { createMailer } from '../../src/email/mailer.ts';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
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
  const mailer = createMailer(config.email, { maxConnections: config.dispatcher.CONCURRENCY });
  const metrics = createMetrics(tdb.db);
  const dispatcher = new Dispatcher(emailWorker({ db: tdb.db, config, mailer, log: createLogger(config), metrics }), {
    listen: listen ? tdb.listen : undefined,
  });
  return {
    dispatcher,
    metrics,
    stop: async () => {
      await dispatcher.stop();
      mailer.close();
    },
  };
}

test.serial('a request wakes the dispatcher through NOTIFY, with no cron tick', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  const [user] = await makeUsers(tdb.db, 1);
  const { stop } = runDispatcher(config);
  t.teardown(stop);
  await waitUntil(() => outboxListened(tdb.db), 'the dispatcher to LISTEN');
  const started = Date.now();
  await requestPwdReset(tdb.db, config, user!.email);
  // The cron never fires: any delivery at all came from the notification. The bound is generous
  // for a loaded machine and a pooler in between; the figure is logged, not asserted.
  await smtp.waitFor(1, 10_000);
  t.log(`enqueue to received: ${Date.now() - started} ms`);
  await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be recorded sent');
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial('without LISTEN only the cron net claims', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: NEVER });
  const [user] = await makeUsers(tdb.db, 1);
  // The dispatcher claims once as it starts; the row is queued after that claim has answered.
  let claimed = false;
  const onResponse = (_response: unknown, query: { sql?: string }) => {
    if (query.sql?.includes('WITH due')) claimed = true;
  };
  tdb.db.on('query-response', onResponse);
  t.teardown(() => void tdb.db.off('query-response', onResponse));
  const { dispatcher, stop } = runDispatcher(config, false);
  t.teardown(stop);
  await waitUntil(() => claimed, 'the start-up claim');
  await requestPwdReset(tdb.db, config, user!.email);
  // Absence can only be watched for a while: long enough for a NOTIFY to have been acted on.
  await new Promise((r) => setTimeout(r, 700));
  t.is(smtp.messages.length, 0, 'no notification, no tick: nothing yet');
  dispatcher.wake(); // what the cron tick does
  await smtp.waitFor(1, 3000);
  t.deepEqual(smtp.recipients, [user!.email]);
});

test.serial('one slow row holds up no other', async (t) => {
  const slow = 'slow@dm.com';
  const smtp = await startSmtpSink(
    () => false,
    (to) => (to === slow ? 3000 : 0),
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
  const started = Date.now();
  await requestPwdReset(tdb.db, config, slow);
  for (const u of users.slice(1)) await requestPwdReset(tdb.db, config, u.email);
  await smtp.waitFor(19, 2500);
  t.true(Date.now() - started < 2500, 'the other 19 went out while the slow one was still in flight');
  t.false(smtp.messages.some((m) => m.subject && (Array.isArray(m.to) ? false : m.to?.text === slow)));
  await smtp.waitFor(20, 5000);
});

test.serial('stop waits for the sends in flight; rows claimed but not started are handed back', async (t) => {
  const smtp = await startSmtpSink(() => false, 500);
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__BATCH_SIZE: '10',
    DUNDIE_DISPATCHER__CONCURRENCY: '2',
  });
  const users = await makeUsers(tdb.db, 10);
  for (const u of users) await requestPwdReset(tdb.db, config, u.email);
  const mailer = createMailer(config.email, { maxConnections: 2 });
  t.teardown(() => mailer.close());
  let stop = false;
  setTimeout(() => (stop = true), 200);
  const result = await dispatchOnce(
    emailWorker({ db: tdb.db, config, mailer, log: createLogger(config), workerId: 'stopping' }),
    { shouldStop: () => stop },
  );
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
  await smtp.waitFor(1, 5000);
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
