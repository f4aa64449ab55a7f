/**
 * The dispatcher under faults, with real processes: killed mid-run, several at once, SMTP down,
 * PostgreSQL restarted under the running service, a notification nobody heard.
 */
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbeddedPostgres } from '../src/db/embeddedPostgres.ts';
import { createDb } from '../src/db/database.ts';
import { useTestDatabase } from './helpers/db.ts';
import { makeUsers, seedResetRequests } from './helpers/factories.ts';
import { waitUntil } from './helpers/wait.ts';
import { cliEnv, startServe, type ServiceProcess } from './helpers/process.ts';
import { smtpEnv, startSmtpSink, type SmtpSink } from './helpers/smtp.ts';

const tdb = useTestDatabase('faults', { clean: ['outbox', 'users'] });

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
  await smtp.waitFor(1, 5000);
  t.is(smtp.recipients[0], user!.email);
});

test.serial(
  'PostgreSQL stopped and started under the service: quick 503s, then 200s, every 200 delivered',
  async (t) => {
    t.timeout(120_000);
    const parent = mkdtempSync(path.join(tmpdir(), 'dundie-pg-restart-'));
    chmodSync(parent, 0o755);
    t.teardown(() => rmSync(parent, { recursive: true, force: true }));
    const log = pino({ level: 'warn' });
    const dir = path.join(parent, 'pg');
    let server = await startEmbeddedPostgres(dir, log);
    const port = Number(new URL(server.adminUrl).port);
    t.teardown(() => server.stop());

    const emailLog = path.join(parent, 'email.log');
    const url = new URL(server.adminUrl);
    const db = createDb(url.toString());
    t.teardown(() => db.destroy());
    const service = await startServe(
      [],
      cliEnv(url.toString(), {
        DUNDIE_EMAIL__LOG_FILE: emailLog,
        DUNDIE_DATABASE__TIMEOUT_SECONDS: '2',
        DUNDIE_DISPATCHER__CRON: '* * * * * *',
        // A claim whose answer was lost in the shutdown waits out its lease: keep that short here.
        DUNDIE_DISPATCHER__LEASE_SECONDS: '10',
      }),
    );
    t.teardown(() => service.child.kill('SIGKILL'));
    const users = await makeUsers(db, 5);

    const results: { status: number; ms: number; email: string }[] = [];
    let running = true;
    const load = (async () => {
      for (let i = 0; running; i++) {
        const email = users[i % users.length]!.email;
        const started = Date.now();
        const status = await fetch(`http://127.0.0.1:${service.port}/user/pwd_reset_token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
          signal: AbortSignal.timeout(10_000),
        }).then(
          (r) => r.status,
          () => 0,
        );
        results.push({ status, ms: Date.now() - started, email });
        await sleep(25);
      }
    })();

    await sleep(1000);
    await server.stop();
    const downAt = results.length;
    await sleep(3000);
    server = await startEmbeddedPostgres(dir, log, { port });
    const upAt = results.length;
    await until('200s again', () => results.slice(upAt).some((r) => r.status === 200), 30_000);
    await sleep(1000);
    running = false;
    await load;

    const during = results.slice(downAt, upAt);
    t.true(
      during.some((r) => r.status === 503),
      'the API answered 503 while PostgreSQL was down',
    );
    t.true(
      during.every((r) => r.status === 503 || r.status === 200),
      `only 200s and 503s: ${[...new Set(during.map((r) => r.status))]}`,
    );
    t.true(
      during.every((r) => r.ms < 5000),
      `quick answers (slowest ${Math.max(...during.map((r) => r.ms))} ms)`,
    );
    t.is(results.at(-1)!.status, 200);

    const ok = results.filter((r) => r.status === 200).length;
    await until(
      'every accepted request sent',
      async () => {
        const [row] = await db('outbox').where({ status: 'sent' }).count({ n: '*' });
        return Number(row?.n) >= ok;
      },
      30_000,
    ).catch(async (err) => {
      t.log(await db('outbox').select('status').count({ n: '*' }).groupBy('status'), ok, service.output().slice(-3000));
      throw err;
    });
    const rows = await db('outbox').select('status');
    t.true(rows.length >= ok, 'a row for every 200');
    t.true(
      rows.every((r) => r.status === 'sent'),
      'and every row sent',
    );
    const mails = (readFileSync(emailLog, 'utf8').match(/START EMAIL/g) ?? []).length;
    t.true(mails >= rows.length, 'an e-mail for every row');
    t.log(
      `${ok} accepted, ${during.filter((r) => r.status === 503).length} answered 503 during the outage, ${mails - rows.length} e-mails sent twice`,
    );
  },
);
