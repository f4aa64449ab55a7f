/**
 * Issue 14, under real faults: a stalled PostgreSQL (every process SIGSTOPped), the embedded
 * server killed, shutdown under load. Each test runs PostgreSQL of its own (`startOwnPostgres`),
 * never the shared server at DATABASE_URL.
 */
import test from 'ava';
import { createDb } from '../src/db/database.ts';
import { startOwnPostgres } from './helpers/embedded.ts';
import { cliEnv, startServe } from './helpers/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

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
    return { email, status: res.status, ms: Date.now() - started, retryAfter: res.headers.get('retry-after'), detail: body?.detail };
  } catch {
    return { email, status: 0, ms: Date.now() - started, retryAfter: null };
  }
}

test.serial('PostgreSQL stalled (SIGSTOP): every request gets a 503 with Retry-After within TIMEOUT_SECONDS, and no 503 leaves a row behind', async (t) => {
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
  t.true(answers.every((a) => a.status === 200), 'warm-up requests accepted');

  pg.signalAll('SIGSTOP');
  const stalledAt = Date.now();
  // 40 at once, then one at a time, and /ready, while the server stays stopped for 8 s.
  const burst = Promise.all(Array.from({ length: 40 }, () => resetRequest(service.port, next())));
  const ready = (async () => {
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${service.port}/ready`, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
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
  t.true(slowest <= 3000 + 400, `each within TIMEOUT_SECONDS of arrival (slowest ${slowest} ms)`);
  t.true(during.every((a) => a.retryAfter !== null), 'with Retry-After');
  t.true(readiness.status === 503 && readiness.ms < 3000, `/ready answers 503 quickly (${readiness.status} in ${readiness.ms} ms)`);
  t.log(`${during.length} requests while stalled: all 503, slowest ${slowest} ms; /ready ${readiness.status} in ${readiness.ms} ms`);

  const stored = new Set((await db('outbox').pluck('payload')).map((p: { email: string }) => p.email));
  const leftBehind = during.filter((a) => stored.has(a.email));
  t.is(leftBehind.length, 0, `rows inserted for requests answered 503: ${leftBehind.map((a) => a.email)}`);
});
