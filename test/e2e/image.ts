/**
 * What a user of the image relies on, checked against a buildah container made from it
 * (scripts/container-check.sh builds the image from the Dockerfile and calls this):
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres tsx test/e2e/image.ts --container NAME
 *
 * Every command is the image's own entrypoint, run as the image's own user, with the image's
 * working directory and environment (`buildah run` takes them from the container's config); the
 * only additions are the settings a deployment gives it. It refuses to start without DATABASE_URL
 * or a good key, migrates an empty database, creates a user with the CLI, serves the image's
 * command (both roles), sends the reset e-mail over SMTP to a sink here, and the link in it works
 * on the image's own page; /metrics is on its own port only; SIGTERM to the container's main
 * process (what `docker stop` sends) stops it within `--grace` seconds (docker's default, 10).
 * It works in a database of its own on DATABASE_URL's server, dropped at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';
import type { ParsedMail } from 'mailparser';
import pg from 'pg';
import { pageClient } from '../helpers/pages.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const { values } = parseArgs({ options: { container: { type: 'string' }, grace: { type: 'string', default: '10' } } });
if (!values.container || !process.env.DATABASE_URL) {
  console.error('usage: DATABASE_URL=postgres://… tsx test/e2e/image.ts --container <buildah container> [--grace 10]');
  process.exit(2);
}
const container = values.container;
const graceMs = Number(values.grace) * 1000;
const serverUrl = process.env.DATABASE_URL;

const step = (text: string) => console.log(`image: ${text}`);
function fail(text: string): never {
  throw new Error(text);
}

interface ImageConfig {
  User?: string;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: { Test?: string[] } | null;
}
const inspected = spawnSync('buildah', ['inspect', container], { encoding: 'utf8' });
if (inspected.status !== 0) fail(`buildah inspect ${container}: ${inspected.stderr}`);
const config = (JSON.parse(inspected.stdout) as { Docker: { config: ImageConfig } }).Docker.config;
const entrypoint = config.Entrypoint ?? [];
const command = config.Cmd ?? [];

/** `buildah run` of argv in the container: the image's user, working directory and environment, plus `env`. */
function inContainer(argv: string[], env: Record<string, string>): ChildProcess {
  const envFlags = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return spawn('buildah', ['run', '--isolation=chroot', '--network=host', ...envFlags, container, '--', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function run(argv: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = inContainer(argv, env);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The process ids under `pid`, from /proc (buildah run → chroot runtime → exec helper → the command). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name sits in parentheses and may hold spaces: the fields after it are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** How long ago `pid` started (its start time in clock ticks since boot, at 100 a second on Linux). */
function ageSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) - startTicks / 100;
}

/** False once `pid` has exited (a zombie not yet reaped counts as exited). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const exeOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

const databaseName = `dundie_image_${randomBytes(4).toString('hex')}`;
const databaseUrl = (() => {
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  return url.toString();
})();
async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const sink = await startSmtpSink();
/** The nth e-mail the sink accepted, once parsed (it counts a message before parsing it). */
async function parsedEmail(n: number): Promise<ParsedMail> {
  await sink.waitFor(n + 1, 20_000);
  while (!sink.messages[n]) await new Promise((r) => setTimeout(r, 20));
  return sink.messages[n];
}
const key = randomBytes(32).toString('base64');
const port = await freePort();
const metricsPort = await freePort();
const base = `http://127.0.0.1:${port}`;
const deployment: Record<string, string> = {
  DATABASE_URL: databaseUrl,
  DUNDIE_SECURITY__SECRET_KEY: key,
  PORT: String(port),
  DUNDIE_SERVER__PUBLIC_URL: base,
  DUNDIE_METRICS__PORT: String(metricsPort),
  ...smtpEnv(sink),
};

let service: ChildProcess | undefined;
let serviceOutput = '';
let mainPid: number | undefined;
let ok = false;
await onServer(serverUrl, (c) => c.query(`CREATE DATABASE ${databaseName}`));
try {
  if (!config.User || ['root', '0'].includes(config.User.split(':')[0]!))
    fail(`the image's user is "${config.User ?? ''}"`);
  step(`entrypoint ${JSON.stringify(entrypoint)}, command ${JSON.stringify(command)}, user ${config.User}`);

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['without DATABASE_URL', { DUNDIE_SECURITY__SECRET_KEY: key }, /DATABASE_URL is required/],
    ['without a key', { DATABASE_URL: databaseUrl }, /DUNDIE_SECURITY__SECRET_KEY is required/],
    [
      'with a 16-byte key',
      { DATABASE_URL: databaseUrl, DUNDIE_SECURITY__SECRET_KEY: randomBytes(16).toString('hex').slice(0, 16) },
      /DUNDIE_SECURITY__SECRET_KEY must be at least 32 bytes/,
    ],
  ];
  for (const [what, env, says] of refusals) {
    const { code, output } = await run([...entrypoint, ...command], env);
    if (code === 0 || !says.test(output)) fail(`${what}: expected a refusal matching ${says}, got ${code}:\n${output}`);
    step(`refuses to start ${what}: ${says.exec(output)![0]}`);
  }

  const migrated = await run([...entrypoint, 'migrate'], deployment);
  if (migrated.code !== 0) fail(`migrate exited ${migrated.code}:\n${migrated.output}`);
  const expected = readdirSync(new URL('../../migrations', import.meta.url)).filter((f) => f.endsWith('.ts')).length;
  const applied = await onServer(databaseUrl, (c) => c.query('SELECT count(*)::int AS n FROM knex_migrations'));
  if (applied.rows[0].n !== expected)
    fail(`migrate applied ${applied.rows[0].n} migrations, the checkout has ${expected}`);
  step(`migrates an empty database: ${expected} migrations`);

  const created = await run(
    [
      ...entrypoint,
      'create-user',
      ...[
        '--name',
        'Michael Scott',
        '--email',
        'mscott@dm.com',
        '--password',
        'worlds-best-boss',
        '--dept',
        'management',
      ],
    ],
    deployment,
  );
  if (created.code !== 0) fail(`create-user exited ${created.code}:\n${created.output}`);
  step(`the CLI: ${created.output.trim()}`);

  const started = Date.now();
  service = inContainer([...entrypoint, ...command], deployment);
  service.stdout!.on('data', (d) => (serviceOutput += d));
  service.stderr!.on('data', (d) => (serviceOutput += d));
  const serviceExit = new Promise<number | null>((resolve) => service!.on('close', (code) => resolve(code)));
  let exited = false;
  void serviceExit.then(() => (exited = true));
  while (
    !(await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (exited) fail('the service exited before it answered /health');
    if (Date.now() - started > 60_000) fail('the service did not answer /health within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const startupMs = Date.now() - started;
  mainPid = descendants(service.pid!).find((pid) => exeOf(pid)[0]?.endsWith('node'));
  if (!mainPid) fail('no node process under buildah run');
  const nodeStartupMs = Math.round(ageSeconds(mainPid) * 1000);
  step(`start-up: /health answered ${startupMs} ms after buildah run, ${nodeStartupMs} ms after node started`);
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${mainPid}/status`, 'utf8'))?.[1];
  if (uid === undefined || uid === '0') fail(`the service runs as uid ${uid}`);
  step(`runs as uid ${uid}, not root`);

  if (config.Healthcheck?.Test?.[0] === 'CMD') {
    const health = await run(config.Healthcheck.Test.slice(1), { PORT: String(port) }, 10_000);
    if (health.code !== 0) fail(`the image's HEALTHCHECK exited ${health.code}:\n${health.output}`);
    step("the image's HEALTHCHECK passes");
  } else
    fail(`the image has no HEALTHCHECK CMD (${JSON.stringify(config.Healthcheck)}): built without --format docker?`);

  const metricsOnApi = await fetch(`${base}/metrics`);
  if (metricsOnApi.status !== 404) fail(`/metrics on the API port answered ${metricsOnApi.status}`);
  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (!metrics.ok || !/dundie_/.test(await metrics.text())) fail(`/metrics on its own port answered ${metrics.status}`);
  step(`/metrics: 404 on the API port, 200 on its own port`);

  const browser = pageClient(base);
  const form = await browser.get('/reset_password');
  if (form.status !== 200 || !/<form method="post" action="\/reset_password"/.test(form.html))
    fail(`GET /reset_password: ${form.status}, no e-mail form`);
  const asked = await browser.post('/reset_password', { email: 'mscott@dm.com' });
  if (asked.status !== 303 || asked.location !== '/reset_password/sent')
    fail(`POST /reset_password: ${asked.status} to ${asked.location}`);
  const askedAt = Date.now();
  const email = await parsedEmail(0);
  const link = /(\S+)\?pwd_reset_token=(\S+)/.exec(email.text ?? '');
  if (!link || link[1] !== `${base}/reset_password`)
    fail(`no link to ${base}/reset_password in the e-mail:\n${email.text}`);
  step(`the reset e-mail arrived over SMTP ${Date.now() - askedAt} ms after the page's form was sent`);

  const opened = await browser.get(new URL(link[0]).pathname + new URL(link[0]).search);
  if (opened.status !== 200 || browser.jar.size === 0) fail(`the link answered ${opened.status} without a cookie`);
  const choose = await browser.get('/reset_password');
  const action = /<form method="post" action="([^"]+)"[^>]*data-new-password/.exec(choose.html)?.[1];
  if (choose.status !== 200 || !action || !choose.html.includes('michael-scott'))
    fail(`the link's page: ${choose.status}, no new-password form for michael-scott`);
  const changed = await browser.post(action, {
    username: 'michael-scott',
    // The page asks for the address the link was sent to (link fixation).
    email: 'mscott@dm.com',
    password: 'thats-what-she-said',
    password_confirm: 'thats-what-she-said',
  });
  if (changed.status !== 303 || changed.location !== '/reset_password/done')
    fail(`POST ${action}: ${changed.status} to ${changed.location}: ${changed.html}`);
  const done = await browser.get('/reset_password/done');
  if (done.status !== 200) fail(`/reset_password/done: ${done.status}`);
  step('the link opened the page, and its form set a new password');

  const login = async (password: string) =>
    (
      await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: 'michael-scott', password }),
      })
    ).status;
  const [withNew, withOld] = [await login('thats-what-she-said'), await login('worlds-best-boss')];
  if (withNew !== 200 || withOld !== 401) fail(`login: new password ${withNew}, old password ${withOld}`);
  await parsedEmail(1);
  step('login with the new password: 200, with the old: 401; the password-changed notice arrived');

  // What `docker stop` does: SIGTERM to the container's main process, SIGKILL after the grace.
  const signalled = Date.now();
  const node = mainPid;
  process.kill(node, 'SIGTERM');
  while (alive(node) && Date.now() - signalled < graceMs) await new Promise((r) => setTimeout(r, 20));
  const stoppedMs = Date.now() - signalled;
  if (alive(node)) fail(`still running ${graceMs / 1000} s after SIGTERM`);
  const code = await serviceExit;
  if (code !== 0 || !/"msg":"stopped"/.test(serviceOutput))
    fail(`after SIGTERM: exit ${code}, ${/"msg":"stopped"/.test(serviceOutput) ? '' : 'no "stopped" line'}`);
  step(`SIGTERM: node stopped cleanly in ${stoppedMs} ms (grace ${graceMs / 1000} s), exit code 0`);
  console.log(`image: STARTUP_MS=${startupMs} NODE_STARTUP_MS=${nodeStartupMs}`);
  ok = true;
} catch (err) {
  console.error(`image check FAILED: ${(err as Error).message}`);
  if (serviceOutput) console.error(`--- service output ---\n${serviceOutput}`);
} finally {
  if (mainPid) {
    try {
      process.kill(mainPid, 'SIGKILL');
    } catch {
      // stopped already
    }
  }
  service?.kill('SIGKILL');
  await sink.close();
  await onServer(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`));
}
process.exit(ok ? 0 : 1);
