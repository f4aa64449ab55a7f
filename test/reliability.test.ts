/**
 * Issue 14, under real faults: a stalled PostgreSQL (every process SIGSTOPped), the embedded
 * server killed, shutdown under load. Each test runs PostgreSQL of its own (`startOwnPostgres`),
 * never the shared server at DATABASE_URL.
 */
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { createDb } from '../src/db/database.ts';
import { startOwnPostgres } from './helpers/embedded.ts';
import { waitUntil } from './helpers/wait.ts';
import { cliEnv, startServe } from './helpers/process.ts';

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
    t.true(slowest <= 3000 + 400, `each within TIMEOUT_SECONDS of arrival (slowest ${slowest} ms)`);
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

/** `dundie serve` on an embedded PostgreSQL of its own, under a fresh data directory. */
async function serveOnEmbedded(t: { teardown(f: () => unknown): void }, label: string) {
  const dataDir = mkdtempSync(path.join(tmpdir(), `dundie-${label}-`));
  chmodSync(dataDir, 0o755);
  const service = await startServe(
    [],
    cliEnv('', {
      DUNDIE_DATA_DIR: dataDir,
      DUNDIE_EMAIL__LOG_FILE: path.join(dataDir, 'email.log'),
      DUNDIE_DISPATCHER__CRON: '* * * * * *',
    }),
  );
  const postmasterPid = () => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  t.teardown(async () => {
    service.child.kill('SIGKILL');
    try {
      process.kill(postmasterPid(), 'SIGKILL');
    } catch {
      // already gone
    }
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { service, dataDir, postmasterPid };
}

const ready = (port: number) =>
  fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.status,
    () => 0,
  );

test.serial('the embedded PostgreSQL killed with -9 is restarted, and requests are served again', async (t) => {
  t.timeout(90_000);
  const { service, postmasterPid } = await serveOnEmbedded(t, 'pg-kill');
  t.is(await ready(service.port), 200);
  const before = postmasterPid();
  process.kill(before, 'SIGKILL');
  const killedAt = Date.now();
  const statuses: number[] = [];
  // Backends of the killed postmaster may still answer for a moment: wait for the new one.
  const restarted = () => {
    try {
      return postmasterPid() !== before;
    } catch {
      return false; // the pid file is being rewritten
    }
  };
  await until(
    'a new postmaster and /ready 200 again',
    async () => {
      statuses.push(await ready(service.port));
      return restarted() && statuses.at(-1) === 200;
    },
    45_000,
  );
  const recovered = Date.now() - killedAt;
  // The restart is quick: the window in which /ready says 503 can be shorter than one poll, so
  // it is reported, not required.
  t.log(`/ready while restarting: ${statuses.join(' ')}`);
  t.not(postmasterPid(), before, 'a new postmaster');
  t.is((await resetRequest(service.port, 'after-restart@dm.com')).status, 200);
  t.log(`/ready 200 again ${recovered} ms after kill -9 of the postmaster`);
  t.regex(service.output(), /embedded PostgreSQL restarted/);

  service.child.kill('SIGTERM');
  const stopStarted = Date.now();
  t.is(await service.exited, 0);
  t.true(Date.now() - stopStarted < 8000, `stopped in ${Date.now() - stopStarted} ms`);
});

test.serial(
  'an embedded PostgreSQL that cannot be restarted makes the service exit non-zero, for its supervisor to restart it',
  async (t) => {
    t.timeout(90_000);
    const { service, dataDir, postmasterPid } = await serveOnEmbedded(t, 'pg-gone');
    // A data directory PostgreSQL refuses to start on: every restart fails.
    const pid = postmasterPid();
    writeFileSync(path.join(dataDir, 'pg', 'PG_VERSION'), '1\n');
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    const code = await Promise.race([service.exited, sleep(40_000).then(() => 'still running')]);
    t.not(code, 0);
    t.not(code, 'still running');
    t.regex(service.output(), /could not be restarted/);
    t.log(`exited ${code} ${Date.now() - killedAt} ms after the kill`);
  },
);

test.serial('SIGTERM with the embedded PostgreSQL already dead stops promptly', async (t) => {
  t.timeout(60_000);
  const { service, dataDir, postmasterPid } = await serveOnEmbedded(t, 'pg-dead-stop');
  const pid = postmasterPid();
  writeFileSync(path.join(dataDir, 'pg', 'PG_VERSION'), '1\n');
  process.kill(pid, 'SIGKILL');
  await until('a failed restart', () => /did not restart/.test(service.output()), 20_000);
  service.child.kill('SIGTERM');
  const started = Date.now();
  const code = await Promise.race([service.exited, sleep(20_000).then(() => 'still running')]);
  const ms = Date.now() - started;
  t.is(code, 0, service.output().slice(-2000));
  t.true(ms < 3000, `stopped in ${ms} ms`);
});
