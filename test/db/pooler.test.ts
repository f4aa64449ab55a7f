/**
 * The service and the dispatcher through a real PgBouncer in transaction mode, the mode nearly
 * every pooler and managed PostgreSQL proxy runs: no named statement meets the wrong server
 * connection, every error the pooler answers is a 503, and the dispatcher says it cannot LISTEN
 * there and works on its cron tick, or listens where LISTEN_URL says.
 */
import test from 'ava';
import process from 'node:process';
import { pino } from 'pino';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { createDb } from '../../src/db/database.ts';
import { createEmailDispatcher } from '../../src/tasks/emailDispatcher.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUsers } from '../helpers/factories.ts';
import { PGBOUNCER, startPgbouncer, targetOf, type Pgbouncer } from '../helpers/pgbouncer.ts';
import { startApi } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';
import { countByStatus, waitUntil } from '../helpers/wait.ts';

if (!PGBOUNCER && process.env.CI)
  throw new Error('CI runs these tests through PgBouncer: install it (apt-get install pgbouncer)');
const pooled = PGBOUNCER ? test.serial : test.skip;
if (!PGBOUNCER) console.log('PgBouncer is not installed: the pooler tests are skipped (apt-get install pgbouncer)');

const tdb = useTestDatabase('pooler', { clean: ['outbox', 'rate_limiter'] });
let pgbouncer: Pgbouncer;
const dbName = () => new URL(tdb.url).pathname.slice(1);
const pooledUrl = () => pgbouncer.url(dbName());

test.serial.before(async () => {
  if (!PGBOUNCER) return;
  // query_wait_timeout: a client waiting for a server connection is told so after 1 s.
  // In front of the server itself, also when the suite already runs through a pooler.
  pgbouncer = await startPgbouncer(targetOf(tdb.listen.url), { settings: { query_wait_timeout: 1 } });
  tdb.teardown(() => pgbouncer.stop());
});

/** `count` reset requests, `concurrency` at a time, each for an address of its own; their statuses. */
async function burst(api: Awaited<ReturnType<typeof startApi>>, label: string, count: number, concurrency = 32) {
  const statuses: { email: string; status: number; retryAfter: string | null }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const email = `${label}-${next++}@dm.com`;
        const res = await api.request('POST', '/user/pwd_reset_token/', { json: { email } });
        statuses.push({ email, status: res.status, retryAfter: res.headers.get('retry-after') });
      }
    }),
  );
  return statuses;
}

async function committed(emails: string[]): Promise<number> {
  const [row] = await tdb
    .db('outbox')
    .whereRaw("payload->>'email' = ANY(?)", [emails])
    .count<{ count: string }[]>({ count: '*' });
  return Number(row!.count);
}

pooled('reset requests through a transaction pooler are all answered 200 and each committed once', async (t) => {
  // The per-client limit on too: its count is the other hot statement of the request.
  const config = testConfig(pooledUrl(), { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000' });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const answers = await burst(api, 'pooled', 600);
  t.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
  t.is(await committed(answers.map((a) => a.email)), 600);
  t.is(await countByStatus(tdb.db, 'pending'), 600);
});

pooled('named statements forced on through a transaction pooler answer 503 with Retry-After, never 500', async (t) => {
  const config = testConfig(pooledUrl(), {
    DUNDIE_DATABASE__PREPARED_STATEMENTS: 'true',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const answers = await burst(api, 'forced', 400);
  const unexpected = answers.filter((a) => a.status !== 200 && a.status !== 503);
  t.deepEqual(unexpected, []);
  t.true(answers.filter((a) => a.status === 503).every((a) => Number(a.retryAfter) > 0));
  t.log(`${answers.filter((a) => a.status === 503).length} of ${answers.length} answered 503`);
  const ok = answers.filter((a) => a.status === 200).map((a) => a.email);
  t.is(await committed(ok), ok.length, 'every 200 is a committed row');
});

pooled('a paused pooler answers 503 within the deadline, and 200 again once it resumes', async (t) => {
  const config = testConfig(pooledUrl());
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  t.is((await burst(api, 'before-pause', 10, 2)).filter((a) => a.status === 200).length, 10);
  await pgbouncer.admin(`PAUSE ${dbName()}`);
  let resumed = false;
  t.teardown(() => (resumed ? undefined : pgbouncer.admin(`RESUME ${dbName()}`)));
  const started = performance.now();
  const paused = await burst(api, 'paused', 8, 8);
  const seconds = (performance.now() - started) / 1000;
  t.deepEqual([...new Set(paused.map((a) => a.status))], [503]);
  t.true(seconds < config.database.TIMEOUT_SECONDS + 2, `answered in ${seconds.toFixed(1)} s`);
  await pgbouncer.admin(`RESUME ${dbName()}`);
  resumed = true;
  // Connections whose statement never came back were closed, not handed to the next request.
  const after = await burst(api, 'resumed', 50, 8);
  t.deepEqual([...new Set(after.map((a) => a.status))], [200]);
});

function dispatcherThrough(listen: { url: string; verified: boolean }, env: Record<string, string>) {
  const config = testConfig(pooledUrl(), env);
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const db = createDb(pooledUrl());
  const dispatcher = createEmailDispatcher({ db, config, log }, { listen });
  return {
    config,
    lines,
    stop: async () => {
      await dispatcher.stop();
      await db.destroy();
    },
  };
}

pooled(
  'behind a transaction pooler the dispatcher says once that it cannot LISTEN, and sends on its cron tick',
  async (t) => {
    const smtp = await startSmtpSink();
    t.teardown(() => smtp.close());
    const [user] = await makeUsers(tdb.db, 1);
    const run = dispatcherThrough(
      { url: pooledUrl(), verified: false },
      { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: '* * * * * *' },
    );
    t.teardown(run.stop);
    await waitUntil(
      () => run.lines.some((l) => /connection pooler, where LISTEN does not work/.test(l.msg)),
      'the warning',
    );
    await requestPwdReset(tdb.db, run.config, user!.email);
    await smtp.waitFor(1);
    await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be sent');
    t.is(run.lines.filter((l) => /LISTEN/.test(l.msg)).length, 1, 'said once, no reconnect loop');
  },
);

pooled('with LISTEN_URL direct, a dispatcher whose pool goes through the pooler is woken at once', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const [user] = await makeUsers(tdb.db, 1);
  const run = dispatcherThrough(
    { url: tdb.listen.url, verified: true },
    { ...smtpEnv(smtp), DUNDIE_DISPATCHER__CRON: '0 0 0 1 1 *' },
  );
  t.teardown(run.stop);
  await waitUntil(async () => {
    const { rows } = await tdb.db.raw(
      "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN outbox'",
    );
    return rows.length > 0;
  }, 'the dispatcher to LISTEN');
  await requestPwdReset(tdb.db, run.config, user!.email);
  await smtp.waitFor(1);
  await waitUntil(async () => (await countByStatus(tdb.db, 'sent')) === 1, 'the row to be sent');
  t.false(run.lines.some((l) => /does not work/.test(l.msg)));
});
