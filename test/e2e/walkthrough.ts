/**
 * The README's walkthrough as a script, against a service started by the command it is given:
 *
 *   tsx test/e2e/walkthrough.ts --serve "npm start" --cli "npm run -s dundie --"
 *
 * It creates a user with the CLI, asks for a reset, reads the e-mail from email.log, changes the
 * password with the token, logs in with the new password, sees the old token refused, and stops
 * the service with SIGTERM. With DATABASE_URL it works in a database of its own on that server;
 * without, the service runs the embedded PostgreSQL in a temporary data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({ options: { serve: { type: 'string' }, cli: { type: 'string' } } });
if (!values.serve) {
  console.error('usage: walkthrough.ts --serve "<command that serves>" [--cli "<command prefix of the CLI>"]');
  process.exit(2);
}
const serveCommand = values.serve;
const cliCommand = values.cli ?? 'npm run -s dundie --';

function step(text: string) {
  console.log(`walkthrough: ${text}`);
}

function fail(text: string): never {
  throw new Error(text);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const work = mkdtempSync(path.join(tmpdir(), 'dundie-walkthrough-'));
// As root the embedded server runs as the `postgres` user, which must reach its data directory.
chmodSync(work, 0o755);
const emailLog = path.join(work, 'email.log');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PORT: String(port),
  DUNDIE_METRICS__PORT: '0',
  DUNDIE_DATA_DIR: path.join(work, 'data'),
  DUNDIE_EMAIL__LOG_FILE: emailLog,
  DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64url'),
};

let dropDatabase = async () => {};
if (process.env.DATABASE_URL) {
  const name = `dundie_walkthrough_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/${name}`;
  env.DATABASE_URL = url.toString();
  dropDatabase = async () => {
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
}

let service: ChildProcess | undefined;
let serviceOutput = '';
let serviceExited = false;
const serviceExit = new Promise<void>((resolve) => {
  step(`starting: ${serveCommand}`);
  // Its own process group, so SIGTERM reaches npm, tsx or deno and the service alike.
  service = spawn(serveCommand, { shell: true, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  service.stdout!.on('data', (d) => (serviceOutput += d));
  service.stderr!.on('data', (d) => (serviceOutput += d));
  service.on('close', () => {
    serviceExited = true;
    resolve();
  });
});

const post = async (url: string, body: unknown, form = false) => {
  const res = await fetch(base + url, {
    method: 'POST',
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
};

const expectStatus = (what: string, got: { status: number; body: unknown }, status: number) => {
  if (got.status !== status) fail(`${what}: expected ${status}, got ${got.status} ${JSON.stringify(got.body)}`);
  step(`${what}: ${status}`);
};

let ok = false;
try {
  const started = Date.now();
  for (;;) {
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (serviceExited) fail('the service exited before it answered /health');
    if (Date.now() - started > 60_000) fail('the service did not answer /health within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  step(`service up after ${Date.now() - started} ms`);

  const created = await run(
    `${cliCommand} create-user --name "Michael Scott" --email mscott@dm.com --password worlds-best-boss --dept management`,
    env,
  );
  if (created.code !== 0) fail(`create-user exited ${created.code}: ${created.output}`);
  step('user created with the CLI');

  const asked = Date.now();
  expectStatus('reset requested', await post('/user/pwd_reset_token/', { email: 'mscott@dm.com' }), 200);
  let token: string | undefined;
  let code: string | undefined;
  while (!token) {
    const log = (() => {
      try {
        return readFileSync(emailLog, 'utf8');
      } catch {
        return '';
      }
    })();
    token = /pwd_reset_token=(\S+)/.exec(log)?.[1];
    // As the README finds it: the code is a line of its own.
    code = [...log.matchAll(/^[0-9]{8}$/gm)].at(-1)?.[0];
    if (!token) {
      if (Date.now() - asked > 10_000) fail('no e-mail in email.log within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  step(`e-mail in email.log ${Date.now() - asked} ms after the request`);
  if (!code) fail('no one-time code on a line of its own in the e-mail');

  const newPassword = { password: 'thats-what-she-said', password_confirm: 'thats-what-she-said' };
  expectStatus(
    'password changed with the token',
    await post(`/user/michael-scott/password/?pwd_reset_token=${token}`, newPassword),
    200,
  );
  expectStatus(
    'login with the new password',
    await post('/token', { username: 'michael-scott', password: 'thats-what-she-said' }, true),
    200,
  );
  expectStatus(
    'login with the old password refused',
    await post('/token', { username: 'michael-scott', password: 'worlds-best-boss' }, true),
    401,
  );
  expectStatus(
    'the used token refused',
    await post(`/user/michael-scott/password/?pwd_reset_token=${token}`, newPassword),
    403,
  );
  expectStatus(
    "the same e-mail's code refused",
    await post('/user/pwd_reset_code/', { email: 'mscott@dm.com', code }),
    400,
  );
  ok = true;
} catch (err) {
  console.error(`walkthrough FAILED: ${(err as Error).message}`);
} finally {
  const signal = (name: NodeJS.Signals) => {
    try {
      if (service?.pid) process.kill(-service.pid, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const stopped = await Promise.race([
    serviceExit.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 15_000)),
  ]);
  if (!stopped) {
    console.error('walkthrough: the service did not stop within 15 s of SIGTERM');
    signal('SIGKILL');
    ok = false;
  } else if (!/stopped/.test(serviceOutput)) {
    console.error('walkthrough: the service exited without a clean shutdown');
    ok = false;
  } else {
    step('service stopped cleanly on SIGTERM');
  }
  if (!ok) console.error(`--- service output ---\n${serviceOutput}`);
  await dropDatabase();
  rmSync(work, { recursive: true, force: true });
}
console.log(ok ? 'walkthrough passed' : 'walkthrough failed');
process.exit(ok ? 0 : 1);
