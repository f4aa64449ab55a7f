/**
 * The embedded PostgreSQL under `dundie serve`, with real processes: killed with -9 it is started
 * again and requests are served; if it cannot be started again the service exits non-zero for its
 * supervisor; SIGTERM with it already dead stops promptly. Each test runs a server of its own under
 * a fresh data directory, never the shared one at DATABASE_URL.
 */
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { waitUntil } from '../helpers/wait.ts';
import { cliEnv, startServe } from '../helpers/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) =>
  waitUntil(check, what, timeoutMs);

/** The status of a reset request for `email` (0 if it got no answer). */
const resetRequest = (port: number, email: string) =>
  fetch(`http://127.0.0.1:${port}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
    signal: AbortSignal.timeout(15_000),
  }).then(
    (r) => r.status,
    () => 0,
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
  t.is(await resetRequest(service.port, 'after-restart@dm.com'), 200);
  t.log(`/ready 200 again ${recovered} ms after kill -9 of the postmaster`);
  // Said once the restart has seen the server accept connections, which the API may see first.
  await until('the restart to be logged', () => /embedded PostgreSQL restarted/.test(service.output()), 10_000);

  service.child.kill('SIGTERM');
  t.is(await service.exited, 0);
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
