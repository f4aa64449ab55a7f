/**
 * `npm run bench [-- --quick]`: Dundie against the physical limit and the best-known peer, side
 * by side in one run on one machine, one PostgreSQL. Prints a table and writes bench/RESULTS.md.
 *
 * 1. Enqueue: POST /user/pwd_reset_token/ under autocannon (its own process) at concurrency 8,
 *    32, 128, and pgbench running the same single-row INSERT into outbox at the same concurrency.
 * 2. Dispatch: 10,000 due rows sent to email.log and to an SMTP sink (its own process), with one
 *    and two dispatcher processes; graphile-worker doing the same work for the same jobs.
 * 3. Latency: enqueue-to-sent delay at a low steady rate.
 * 4. Memory: the API process's peak RSS during the enqueue runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { createDb, type Db } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { seedUsers } from './seed.ts';
import { benchDatabase, machineLine } from './support.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = values.quick!;
const ENQUEUE_SECONDS = quick ? 2 : 10;
const CONCURRENCIES = quick ? [8, 32] : [8, 32, 128];
const ROWS = quick ? 500 : 10_000;
const LATENCY_REQUESTS = quick ? 50 : 500;
const command = `npm run bench${quick ? ' -- --quick' : ''}`;

const database = await benchDatabase();
const work = mkdtempSync(path.join(tmpdir(), 'dundie-bench-'));
const db = createDb(database.url, { poolMax: 4 });
await migrateLatest(db);
// One user per row: every row is a first request for its address, so the default cooldown applies and sends.
const emails = await seedUsers(db, ROWS, 'bench');
const lines: string[] = [];
const say = (line: string) => {
  console.log(line);
  lines.push(line);
};

const baseEnv = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  DATABASE_URL: database.url,
  DUNDIE_SECURITY__SECRET_KEY: 'bench-secret-key-that-is-long-enough-0123456789',
  DUNDIE_LOG__LEVEL: 'warn',
  DUNDIE_LOG__FORMAT: 'json',
  // API and dispatcher processes side by side: each its own metrics port.
  DUNDIE_METRICS__PORT: '0',
  DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '0',
  DUNDIE_SECURITY__RATE_LIMIT_LOGIN_PER_MINUTE: '0',
  DUNDIE_EMAIL__LOG_FILE: path.join(work, 'email.log'),
};

/** Starts `node <args>` and resolves once a stdout line passes `ready`. */
function startNode(args: string[], env: Record<string, string>, ready: (line: string) => unknown): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    let done = false;
    child.stdout!.on('data', (d) => {
      out += d;
      if (done) return;
      for (const line of out.split('\n')) {
        if (line && ready(line)) {
          done = true;
          resolve({ child, line });
          return;
        }
      }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => !done && reject(new Error(`node ${args.join(' ')} exited ${code}:\n${out}`)));
  });
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });

// Dundie runs as the image runs it: the compiled build, with the Dockerfile's NODE_OPTIONS.
const imageNodeOptions = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
if (imageNodeOptions === undefined) throw new Error('bench: no `ENV NODE_OPTIONS="…"` line in the Dockerfile');
await run('npm', ['run', '-s', 'build']);
const dundie = (args: string[]) => ['dist/src/cli.js', ...args];
const dundieEnv = (env: Record<string, string>) => ({ ...env, NODE_OPTIONS: imageNodeOptions });
const logged = (msg: string) => (line: string) => line.startsWith('{') && JSON.parse(line).msg?.startsWith(msg);

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out.slice(-2000)}`))));
  });
}

const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---------------------------------------------------------------- 1. enqueue
say(`# Dundie benchmarks${quick ? ' (quick)' : ''}`);
say('');
say(`machine: ${machineLine(database.serverVersion)}; command: \`${command}\`${process.env.DATABASE_URL ? ' with DATABASE_URL' : ' (embedded PostgreSQL)'}`);
say('');
say(`Dundie runs as its image does: \`node dist/src/cli.js serve --api\` (or \`--dispatcher\`) with NODE_OPTIONS=${imageNodeOptions}.`);
say('');
say('## Enqueue: POST /user/pwd_reset_token/ against pgbench\'s single-row INSERT into outbox');
say('');
say('| concurrency | Dundie req/s | p50 ms | p99 ms | pgbench INSERT/s | ratio |');
say('|---|---|---|---|---|---|');
// Request logs are on at the default level (info), as in production: they are part of the cost.
const port = 18000 + Math.floor(Math.random() * 1000);
const api = await startNode(dundie(['serve', '--api']), { ...dundieEnv(baseEnv), PORT: String(port), DUNDIE_LOG__LEVEL: 'info', DUNDIE_DATABASE__POOL_MAX: '20' }, logged('API listening'));
const pgbenchScript = path.join(work, 'insert.sql');
writeFileSync(pgbenchScript, `INSERT INTO outbox (kind, payload, max_attempts) VALUES ('pwd_reset_email', '{"email": "bench-1@dm.com"}', 8);\n`);
const enqueue: { c: number; rps: number; p50: number; p99: number; pgbench: number }[] = [];
// pgbench holds one connection per client: at 128 it can exceed the server's max_connections
// (the API needs only its pool of 20 for any number of HTTP clients), so it is capped below that.
const maxConnections = Number((await db.raw('SHOW max_connections')).rows[0].max_connections);
const pgbenchClients = (c: number) => Math.min(c, maxConnections - 40);
let pgbenchMissing = false;
for (const c of CONCURRENCIES) {
  await db('outbox').truncate();
  const out = await run(path.join('node_modules', '.bin', 'autocannon'), [
    '-c', String(c), '-d', String(ENQUEUE_SECONDS), '-m', 'POST', '-H', 'content-type=application/json',
    '-b', JSON.stringify({ email: 'bench-1@dm.com' }), '--json', `http://127.0.0.1:${port}/user/pwd_reset_token/`,
  ]);
  const result = JSON.parse(out.slice(out.indexOf('{')));
  if (result.non2xx) throw new Error(`autocannon saw ${result.non2xx} non-2xx answers`);
  await db('outbox').truncate();
  let pgbench = NaN;
  try {
    const pg = await run('pgbench', ['-n', '-c', String(pgbenchClients(c)), '-j', '2', '-T', String(ENQUEUE_SECONDS), '-f', pgbenchScript, database.url]);
    pgbench = Number(/tps = ([\d.]+)/.exec(pg)?.[1]);
  } catch (err) {
    pgbenchMissing = true;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const row = { c, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, pgbench };
  enqueue.push(row);
  const capped = pgbenchClients(c) < c ? ` (${pgbenchClients(c)} clients: max_connections ${maxConnections})` : '';
  say(`| ${c} | ${fmt(row.rps)} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${pgbenchMissing ? 'no pgbench' : fmt(pgbench) + capped} | ${pgbenchMissing ? '–' : fmt(row.rps / pgbench, 2)} |`);
}
const rss = peakRss(api.child.pid!);
await stopChild(api.child);
say('');
say(`Peak RSS of the API process over the enqueue runs: ${fmt(rss, 1)} MB`);

// ---------------------------------------------------------------- 2. dispatch
say('');
say(`## Dispatch: ${fmt(ROWS)} due rows, Dundie's dispatcher against graphile-worker doing the same work`);
say('');
say('| transport | processes | Dundie e-mails/s | graphile-worker e-mails/s | ratio |');
say('|---|---|---|---|---|');
const sink = await startNode(['--import', 'tsx', 'bench/smtpSink.ts'], baseEnv, (line) => line.startsWith('{"port"'));
const sinkPort = JSON.parse(sink.line).port;
const transports: Record<string, Record<string, string>> = {
  'email.log': { DUNDIE_EMAIL__DEBUG_MODE: 'true' },
  SMTP: { DUNDIE_EMAIL__DEBUG_MODE: 'false', DUNDIE_EMAIL__SMTP_SERVER: '127.0.0.1', DUNDIE_EMAIL__SMTP_PORT: String(sinkPort) },
};

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const countOf = async (database: Db, sql: string) => Number((await database.raw(sql)).rows[0].n);
const rowsFor = () => emails;

async function dundieDispatch(env: Record<string, string>, processes: number): Promise<number> {
  await db('outbox').truncate();
  await db('pwd_reset_throttle').truncate();
  const workers = await Promise.all(
    Array.from({ length: processes }, () => startNode(dundie(['serve', '--dispatcher']), { ...dundieEnv(env), DUNDIE_LOG__LEVEL: 'info' }, logged('dispatcher started'))),
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  const batch = rowsFor();
  for (let i = 0; i < batch.length; i += 5000) {
    await db('outbox').insert(batch.slice(i, i + 5000).map((email) => ({ kind: 'pwd_reset_email', payload: { email }, max_attempts: 8 })));
  }
  await waitFor('Dundie sent everything', async () => (await countOf(db, `SELECT count(*) AS n FROM outbox WHERE status = 'sent'`)) === ROWS);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => stopChild(w.child)));
  return ROWS / seconds;
}

async function graphileDispatch(env: Record<string, string>, processes: number): Promise<number> {
  const workers = await Promise.all(
    Array.from({ length: processes }, () => startNode(['--import', 'tsx', 'bench/graphileWorker.ts'], env, (line) => line.includes('"ready"'))),
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  const batch = rowsFor();
  for (let i = 0; i < batch.length; i += 5000) {
    await db.raw(`SELECT graphile_worker.add_job('pwd_reset_email', json_build_object('email', e)) FROM unnest(?::text[]) e`, [batch.slice(i, i + 5000)]);
  }
  await waitFor('graphile-worker ran everything', async () => (await countOf(db, 'SELECT count(*) AS n FROM graphile_worker.jobs')) === 0);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => stopChild(w.child)));
  return ROWS / seconds;
}

const dispatch: { transport: string; processes: number; dundie: number; graphile: number }[] = [];
for (const [transport, env] of Object.entries(transports)) {
  for (const processes of [1, 2]) {
    const ours = await dundieDispatch({ ...baseEnv, ...env }, processes);
    const theirs = await graphileDispatch({ ...baseEnv, ...env }, processes);
    dispatch.push({ transport, processes, dundie: ours, graphile: theirs });
    say(`| ${transport} | ${processes} | ${fmt(ours)} | ${fmt(theirs)} | ${fmt(ours / theirs, 2)} |`);
  }
}
await stopChild(sink.child);
say('');
say(`Both with CONCURRENCY 8 per process; graphile-worker ${JSON.parse(readFileSync('node_modules/graphile-worker/package.json', 'utf8')).version} otherwise with its defaults.`);

// ---------------------------------------------------------------- 3. latency
await db.destroy();
const latencyOut = await run(process.execPath, ['--import', 'tsx', 'bench/latency.ts', '--requests', String(LATENCY_REQUESTS), '--rate', '20'], {
  DATABASE_URL: database.adminUrl,
});
say('');
say('## Latency: enqueue to sent at 20 requests/s, e-mails to email.log');
say('');
for (const line of latencyOut.trim().split('\n')) if (!line.startsWith('machine')) say(line);

// ---------------------------------------------------------------- targets
const at32 = enqueue.find((e) => e.c === 32)!;
const latencyP99 = Number(/p99 ([\d.]+) ms/.exec(latencyOut)?.[1]);
say('');
say('## Targets');
say('');
const check = (ok: boolean) => (ok ? 'met' : 'NOT met');
say(`- enqueue ≥ 0.5 × pgbench at every concurrency: ${pgbenchMissing ? 'not measured (no pgbench)' : check(enqueue.every((e) => e.rps >= 0.5 * e.pgbench))} (${enqueue.map((e) => `${e.c}: ${fmt(e.rps / e.pgbench, 2)}`).join(', ')})`);
say(`- p99 under 20 ms at concurrency 32: ${check(at32.p99 < 20)} (${fmt(at32.p99, 1)} ms)`);
say(`- dispatch ≥ 1.0 × graphile-worker in both transports: ${check(dispatch.every((d) => d.dundie >= d.graphile))} (${dispatch.map((d) => `${d.transport}/${d.processes}: ${fmt(d.dundie / d.graphile, 2)}`).join(', ')})`);
say(`- enqueue-to-sent p99 under 250 ms: ${check(latencyP99 < 250)} (${fmt(latencyP99, 1)} ms)`);
say(`- peak RSS under 150 MB: ${check(rss < 150)} (${fmt(rss, 1)} MB)`);

if (!quick) writeFileSync('bench/RESULTS.md', lines.join('\n') + '\n');
await database.close();
rmSync(work, { recursive: true, force: true });
process.exit(0);
