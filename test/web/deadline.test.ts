/**
 * A request is answered by its deadline (DATABASE.TIMEOUT_SECONDS from its arrival) when the
 * database does not answer, under real faults: a stalled PostgreSQL (every process SIGSTOPped), a
 * COMMIT that waits for a synchronous standby that does not answer. Each test runs PostgreSQL of
 * its own (`startOwnPostgres`), never the shared server at DATABASE_URL.
 */
import test from 'ava';
import { createDb } from '../../src/db/database.ts';
import { startOwnPostgres } from '../helpers/embedded.ts';
import { testConfig } from '../helpers/config.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';
import { startApi } from '../helpers/service.ts';
import { waitUntil } from '../helpers/wait.ts';
import { cliEnv, startServe } from '../helpers/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) =>
  waitUntil(check, what, timeoutMs);

interface Answer {
  email: string;
  status: number;
  ms: number;
  retryAfter: string | null;
  detail?: unknown;
}

async function resetRequest(port: number, email: string): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/user/pwd_reset_token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = await res.json().catch(() => undefined);
    return {
      email,
      status: res.status,
      ms: Date.now() - started,
      retryAfter: res.headers.get('retry-after'),
      detail: body?.detail,
    };
  } catch {
    return { email, status: 0, ms: Date.now() - started, retryAfter: null };
  }
}

test.serial(
  'PostgreSQL stalled (SIGSTOP): every request gets a 503 with Retry-After within TIMEOUT_SECONDS, and no 503 leaves a row behind',
  async (t) => {
    t.timeout(90_000);
    const pg = await startOwnPostgres(t, 'stall');
    const service = await startServe(['--api'], cliEnv(pg.server.adminUrl, { DUNDIE_DATABASE__TIMEOUT_SECONDS: '3' }));
    t.teardown(() => service.child.kill('SIGKILL'));
    const db = createDb(pg.server.adminUrl);
    t.teardown(() => db.destroy());

    const answers: Answer[] = [];
    let n = 0;
    const next = () => `stall-${n++}@dm.com`;
    for (let i = 0; i < 20; i++) answers.push(await resetRequest(service.port, next()));
    t.true(
      answers.every((a) => a.status === 200),
      'warm-up requests accepted',
    );

    pg.signalAll('SIGSTOP');
    const stalledAt = Date.now();
    // 40 at once, then one at a time, and /ready, while the server stays stopped for 8 s.
    const burst = Promise.all(Array.from({ length: 40 }, () => resetRequest(service.port, next())));
    const ready = (async () => {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${service.port}/ready`, { signal: AbortSignal.timeout(15_000) }).catch(
        () => undefined,
      );
      return { status: res?.status ?? 0, ms: Date.now() - started };
    })();
    const oneByOne: Answer[] = [];
    while (Date.now() - stalledAt < 7000) oneByOne.push(await resetRequest(service.port, next()));
    const during = [...(await burst), ...oneByOne];
    const readiness = await ready;
    await sleep(Math.max(0, 8000 - (Date.now() - stalledAt)));
    pg.signalAll('SIGCONT');

    await until('200s again', async () => (await resetRequest(service.port, next())).status === 200, 20_000);
    // Anything the server had been sent while stopped has now run.
    await sleep(2000);

    const statuses = [...new Set(during.map((a) => a.status))];
    t.deepEqual(statuses, [503], `only 503s while stalled, got ${statuses}`);
    const slowest = Math.max(...during.map((a) => a.ms));
    // A request that waited for the database would answer when it came back, 8 s after the stop;
    // the slack over the 3 s deadline is for a loaded machine's scheduling, not for the database.
    t.true(slowest < 3000 + 2000, `each at TIMEOUT_SECONDS, not when the database came back (slowest ${slowest} ms)`);
    t.true(
      during.every((a) => a.retryAfter !== null),
      'with Retry-After',
    );
    t.true(
      readiness.status === 503 && readiness.ms < 3000,
      `/ready answers 503 quickly (${readiness.status} in ${readiness.ms} ms)`,
    );
    t.log(
      `${during.length} requests while stalled: all 503, slowest ${slowest} ms; /ready ${readiness.status} in ${readiness.ms} ms`,
    );

    const stored = new Set((await db('outbox').pluck('payload')).map((p: { email: string }) => p.email));
    const leftBehind = during.filter((a) => stored.has(a.email));
    t.is(leftBehind.length, 0, `rows inserted for requests answered 503: ${leftBehind.map((a) => a.email)}`);
  },
);

/** Makes every COMMIT that wrote something wait for a standby named `names` ('' for none: they go on). */
async function requireSynchronousStandby(db: ReturnType<typeof createDb>, names: string): Promise<void> {
  await db.raw(
    names ? `ALTER SYSTEM SET synchronous_standby_names = '${names}'` : 'ALTER SYSTEM RESET synchronous_standby_names',
  );
  await db.raw('SELECT pg_reload_conf()');
}

test.serial(
  'a COMMIT stalled by a synchronous standby: the 503 says the request may have been recorded, and asking again sends one e-mail',
  async (t) => {
    t.timeout(90_000);
    const pg = await startOwnPostgres(t, 'syncrep');
    const config = testConfig(pg.server.adminUrl, {
      DUNDIE_DATABASE__TIMEOUT_SECONDS: '2',
      DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60',
    });
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    const db = createDb(pg.server.adminUrl);
    t.teardown(() => db.destroy());
    const user = await makeUser(db, { email: 'stanley@dm.com' });
    const ask = () => api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });

    // The INSERT runs in time; its COMMIT is flushed locally and then waits for the standby.
    await requireSynchronousStandby(db, 'standby_that_never_answers');
    let stalled: Awaited<ReturnType<typeof ask>> | undefined;
    let acceptedBefore = 0; // requests that reached the server before the setting did
    await until(
      'a reset request held by its COMMIT',
      async () => {
        const answer = await ask();
        if (answer.status === 200) acceptedBefore++;
        else stalled = answer;
        return stalled !== undefined;
      },
      15_000,
    );
    t.is(stalled!.status, 503);
    t.is(
      stalled!.body.detail,
      'Service temporarily unavailable: your request may have been recorded; asking again is safe, try again shortly',
    );
    t.truthy(stalled!.headers.get('retry-after'));

    // The standby answers (here: is no longer waited for), and the row the client got a 503 for is there.
    await requireSynchronousStandby(db, '');
    const rows = async () => Number((await db('outbox').count<{ n: string }[]>({ n: '*' }))[0]!.n);
    await until('the stalled row committed', async () => (await rows()) === acceptedBefore + 1, 10_000);

    // The client asks again, as told: a second row, and the address's cooldown lets one e-mail out.
    t.is((await ask()).status, 200);
    t.like(await dispatch(db, config), { sent: 1 });
    t.is((await readEmailLog(config)).filter((m) => m.to === user.email).length, 1);
    t.deepEqual(
      (await db('outbox').where({ status: 'skipped' }).pluck('last_error')).map((e: string) => /throttled/.test(e)),
      Array.from({ length: acceptedBefore + 1 }, () => true),
      'every other row ends throttled',
    );
  },
);
