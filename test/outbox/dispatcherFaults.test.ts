/**
 * Dispatcher processes under faults: one killed mid-run, several at once over the same rows, SMTP
 * down for a while, a notification nobody heard. PostgreSQL restarted under the running service:
 * test/db/postgresRestart.test.ts.
 */
import test from 'ava';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUsers, seedResetRequests } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/wait.ts';
import { cliEnv, startServe, type ServiceProcess } from '../helpers/process.ts';
import { smtpEnv, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('dispatcher_faults', { clean: ['outbox', 'users'] });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) =>
  waitUntil(check, what, timeoutMs);

const count = async (where: Record<string, unknown> = {}) =>
  Number((await tdb.db('outbox').where(where).count({ n: '*' }))[0]!.n);

function dispatcherEnv(smtp: SmtpSink, extra: Record<string, string> = {}) {
  return cliEnv(tdb.url, {
    DUNDIE_LOG__LEVEL: 'warn',
    ...smtpEnv(smtp),
    DUNDIE_DISPATCHER__CRON: '* * * * * *',
    ...extra,
  });
}

async function startDispatchers(
  n: number,
  env: Record<string, string>,
  t: { teardown(f: () => void): void },
): Promise<ServiceProcess[]> {
  const started = await Promise.all(
    Array.from({ length: n }, () => startServe(['--dispatcher'], { ...env, DUNDIE_LOG__LEVEL: 'info' })),
  );
  for (const s of started) t.teardown(() => s.child.kill('SIGKILL'));
  return started;
}

test.serial(
  'kill -9 in the middle of 1,000 rows: another dispatcher delivers them all, duplicates only from rows in flight',
  async (t) => {
    t.timeout(120_000);
    const smtp = await startSmtpSink(() => false, 5, 0, { parse: false });
    t.teardown(() => smtp.close());
    const emails = await seedResetRequests(tdb.db, 1000, 'kill');
    const env = dispatcherEnv(smtp, { DUNDIE_DISPATCHER__LEASE_SECONDS: '2' });

    const [first] = await startDispatchers(1, env, t);
    await until('200 messages', () => smtp.recipients.length >= 200, 60_000);
    first!.child.kill('SIGKILL');
    await first!.exited;
    const inFlight = await count({ status: 'sending' });
    const beforeKill = smtp.recipients.length;
    t.log(`killed after ${beforeKill} messages with ${inFlight} rows in flight`);

    await startDispatchers(1, env, t);
    await until('every row sent', async () => (await count({ status: 'sent' })) === 1000, 90_000);
    const received = new Set(smtp.recipients);
    t.true(
      emails.every((e) => received.has(e)),
      'every address received its e-mail',
    );
    const duplicates = smtp.recipients.length - 1000;
    t.log(`${duplicates} duplicates`);
    t.true(
      duplicates <= inFlight,
      `duplicates (${duplicates}) no more than the rows in flight at the kill (${inFlight})`,
    );
  },
);

test.serial('three dispatcher processes over 5,000 rows deliver each exactly once', async (t) => {
  t.timeout(180_000);
  const smtp = await startSmtpSink(() => false, 0, 0, { parse: false });
  t.teardown(() => smtp.close());
  const emails = await seedResetRequests(tdb.db, 5000, 'three');
  const started = Date.now();
  await startDispatchers(3, dispatcherEnv(smtp), t);
  await until('every row sent', async () => (await count({ status: 'sent' })) === 5000, 150_000);
  t.log(`5,000 rows in ${Date.now() - started} ms with three processes`);
  await sleep(300);
  t.is(smtp.recipients.length, 5000);
  t.is(new Set(smtp.recipients).size, 5000);
  const received = new Set(smtp.recipients);
  t.true(emails.every((e) => received.has(e)));
});

test.serial('SMTP down for a while: rows retry with backoff, all go out once it is back', async (t) => {
  t.timeout(60_000);
  const probe = await startSmtpSink();
  const port = probe.port;
  await probe.close();
  const users = await makeUsers(tdb.db, 30);
  for (const u of users)
    await tdb.db('outbox').insert({ kind: 'pwd_reset_email', payload: { email: u.email }, max_attempts: 20 });
  const env = dispatcherEnv({ port } as SmtpSink, {
    DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '1',
    DUNDIE_DISPATCHER__BACKOFF_MAX_SECONDS: '2',
    DUNDIE_EMAIL__TIMEOUT_SECONDS: '2',
  });
  await startDispatchers(1, env, t);
  await until(
    'failures recorded',
    async () => (await tdb.db('outbox').where('attempts', '>=', 2).count({ n: '*' }))[0]!.n == 30,
    20_000,
  );
  t.is(await count({ status: 'sent' }), 0);

  const smtp = await startSmtpSink(() => false, 0, port);
  t.teardown(() => smtp.close());
  await until('every row sent', async () => (await count({ status: 'sent' })) === 30, 20_000);
  const rows = await tdb.db('outbox').select('attempts', 'last_error');
  // Counted at claim: at least one failed try and the one that went out.
  t.true(
    rows.every((r) => r.attempts >= 2),
    'the failed attempts are counted',
  );
  t.true(rows.every((r) => r.last_error === null));
  t.deepEqual([...new Set(smtp.recipients)].sort(), users.map((u) => u.email).sort());
});

test.serial('a notification nobody heard: the cron net still sends the row', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const [user] = await makeUsers(tdb.db, 1);
  await startDispatchers(1, dispatcherEnv(smtp, { DUNDIE_DISPATCHER__LISTEN: 'false' }), t);
  await sleep(300);
  await tdb.db('outbox').insert({ kind: 'pwd_reset_email', payload: { email: user!.email } });
  await smtp.waitFor(1);
  t.is(smtp.recipients[0], user!.email);
});
