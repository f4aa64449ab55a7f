/**
 * `npm run bench [-- --quick]`: Dundie against the physical limit and the best-known peer, side
 * by side in one run on one machine, one PostgreSQL. Prints a table and writes bench/RESULTS.md.
 *
 * 1. Enqueue: POST /user/pwd_reset_token/ under autocannon (its own process) at concurrency 8,
 *    32, 128, against three anchors at the same concurrency: pgbench running the same single-row
 *    INSERT into a plain copy of outbox (no NOTIFY trigger: the database limit), a bare
 *    node:http server answering the same JSON (the HTTP limit), and Koa with koa-bodyparser and
 *    @koa/router answering it (the floor of the stack Dundie is built on); then that floor
 *    committing each request's row to outbox before its 200, as Dundie does (what is left
 *    between it and Dundie is Dundie's own work). Then `npm start` (both roles) at 32, and its
 *    memory under 4,000 junk requests.
 * 2. Dispatch: 10,000 due rows sent to email.log, to an SMTP sink and to an HTTP endpoint (the
 *    `http` transport; each sink its own process), with one and two dispatcher processes;
 *    graphile-worker doing the same work for the same jobs.
 * 3. Latency: enqueue-to-sent delay at a low steady rate.
 * 4. Memory: peak RSS of the API process and of the `npm start` process.
 * 5. Scaling out (`bench/scaleOut.ts`): named vs unnamed statements and PgBouncer; N API + M
 *    dispatcher processes on one database.
 *
 * `--seed URL` also measures the first Dundie (FastAPI + uvicorn + RQ) on the same request at
 * concurrency 32, right after Dundie: start it yourself at URL (its code is not part of this
 * repository). Not in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { createDb, type Db } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { ANONYMOUS_BODY_KB, RESET_REQUEST_BODY_KB } from '../src/web/readBody.ts';
import { seedUsers } from './seed.ts';
import { benchDatabase, GRAPHILE_CONCURRENCY, machineLine } from './support.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, seed: { type: 'string' } },
});
const quick = values.quick;
const ENQUEUE_SECONDS = quick ? 2 : 10;
const CONCURRENCIES = quick ? [8, 32] : [8, 32, 128];
const ROWS = quick ? 500 : 10_000;
const LATENCY_REQUESTS = quick ? 50 : 500;
const JUNK = quick ? 400 : 4000;
const WARMUP = quick ? 2000 : 20_000;
const flags = [quick ? '--quick' : '', values.seed ? `--seed ${values.seed}` : ''].filter(Boolean).join(' ');
const command = `npm run bench${flags ? ` -- ${flags}` : ''}`;

const database = await benchDatabase();
const work = mkdtempSync(path.join(tmpdir(), 'dundie-bench-'));
// The bench's own statements (seeding, queueing 10,000 jobs at once) run longer than the service's deadline.
const db = createDb(database.url, { poolMax: 4, timeoutSeconds: 120 });
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
  // The per-client limit stays on, as it is by default, set high enough that the bench's one
  // client address is never refused: its cost is part of every request's.
  DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000000',
  DUNDIE_SECURITY__RATE_LIMIT_LOGIN_PER_MINUTE: '1000000000',
  // So is the per-client cap on connections: autocannon opens all of its connections from one
  // address, and at c=128 the default 64 closed half of them as they arrived, so the run measured
  // their reconnecting. Any other refused connection fails the run (`errors`).
  DUNDIE_API__MAX_CONNECTIONS_PER_CLIENT: '1024',
  DUNDIE_EMAIL__LOG_FILE: path.join(work, 'email.log'),
};

/** Starts `node <args>` and resolves once a stdout line passes `ready`. */
function startNode(
  args: string[],
  env: Record<string, string>,
  ready: (line: string) => unknown,
): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let out = '';
    let done = false;
    child.stdout!.on('data', (d) => {
      out += d;
      if (done) return;
      // Whole lines only: a chunk may end in the middle of one.
      for (const line of out.slice(0, out.lastIndexOf('\n') + 1).split('\n')) {
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
// …and the node flags of its ENTRYPOINT (those NODE_OPTIONS may not hold).
const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
const imageNodeFlags = entrypoint ? (JSON.parse(entrypoint) as string[]).slice(1, -1) : [];
await run('npm', ['run', '-s', 'build']);
const dundie = (args: string[]) => [...imageNodeFlags, 'dist/src/cli.js', ...args];
const dundieEnv = (env: Record<string, string>) => ({ ...env, NODE_OPTIONS: imageNodeOptions });
// `npm start` as package.json says, run with this Node (the script must be `node <args>`).
const startScript = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start as string;
const [startNodeCmd, ...startArgs] = startScript.split(' ');
if (startNodeCmd !== 'node') throw new Error(`bench: npm start is not \`node …\`: ${startScript}`);
const logged = (msg: string) => (line: string) => line.startsWith('{') && JSON.parse(line).msg?.startsWith(msg);

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out.slice(-2000)}`)),
    );
  });
}

const peakRss = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---------------------------------------------------------------- 1. enqueue
say(`# Dundie benchmarks${quick ? ' (quick)' : ''}`);
say('');
say(
  `machine: ${machineLine(database.serverVersion)}; load average at the start ${loadavg()
    .map((l) => l.toFixed(1))
    .join(', ')}; command: \`${command}\`${process.env.DATABASE_URL ? ' with DATABASE_URL' : ' (embedded PostgreSQL)'}`,
);
say('');
say(
  `Dundie runs as its image does: \`node ${[...imageNodeFlags, ''].join(' ')}dist/src/cli.js serve --api\` (or \`--dispatcher\`) with NODE_OPTIONS=${imageNodeOptions}; the default run is \`npm start\` (\`${startScript}\`), both roles in one process.`,
);
say('');
say('## Enqueue: POST /user/pwd_reset_token/ against the database limit, the HTTP limit and the Koa floor');
say('');
say(
  "The anchors run in the same run, one after the other at each concurrency: **pgbench** runs the same single-row INSERT into `outbox_plain`, a copy of `outbox` without its NOTIFY trigger (the database limit: one client, one INSERT, one commit); **bare node:http** reads the same body and answers the same JSON, storing nothing (the HTTP limit); the **Koa floor** is Koa + koa-bodyparser + @koa/router doing the same, none of Dundie's middleware (what no service on the stack Dundie is built on can pass). Ratios are Dundie ÷ anchor. The load generator (autocannon), the server and PostgreSQL share the machine's cores.",
);
say('');
say(
  '| concurrency | Dundie API req/s | p50 ms | p99 ms | pgbench INSERT/s | bare node:http req/s | Koa floor req/s | Koa floor p99 ms | × pgbench | × bare HTTP | × Koa floor | CPU µs per request, Dundie / Koa floor |',
);
say('|---|---|---|---|---|---|---|---|---|---|---|---|');
// Request logs are on at the default level (info), as in production: they are part of the cost.
const freePort = () => 18000 + Math.floor(Math.random() * 1000);
const port = freePort();
const apiEnv = {
  ...dundieEnv(baseEnv),
  PORT: String(port),
  DUNDIE_LOG__LEVEL: 'info',
  DUNDIE_DATABASE__POOL_MAX: '20',
};
const api = await startNode(dundie(['serve', '--api']), apiEnv, logged('API listening'));
const bare = await startNode(['--import', 'tsx', 'bench/bareHttp.ts'], baseEnv, (line) => line.startsWith('{"port"'));
const barePort = JSON.parse(bare.line).port;
const koa = await startNode(['--import', 'tsx', 'bench/koaFloor.ts'], baseEnv, (line) => line.startsWith('{"port"'));
const koaPort = JSON.parse(koa.line).port;
// With Dundie's node flags, since it is measured against Dundie.
const koaStore = await startNode(
  [...imageNodeFlags, '--import', 'tsx', 'bench/koaFloor.ts', '--store'],
  dundieEnv(baseEnv),
  (line) => line.startsWith('{"port"'),
);
const koaStorePort = JSON.parse(koaStore.line).port;
await db.raw('CREATE TABLE outbox_plain (LIKE outbox INCLUDING ALL)');
const pgbenchScript = path.join(work, 'insert.sql');
writeFileSync(
  pgbenchScript,
  `INSERT INTO outbox_plain (kind, payload, max_attempts) VALUES ('pwd_reset_email', '{"email": "bench-1@dm.com"}', 8);\n`,
);
/** CPU time (user + system) a process has used so far, in ms; Linux's clock ticks are 10 ms. */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
/**
 * `cpuUs`: the serving process's CPU per answered request (µs), when its `pid` is given.
 * `errors`: connections refused, reset or timed out.
 */
type Load = { rps: number; p50: number; p99: number; non2xx: number; errors: number; cpuUs: number };
async function autocannon(
  url: string,
  c: number,
  {
    body = JSON.stringify({ email: 'bench-1@dm.com' }),
    amount,
    method = 'POST',
    pid,
  }: { body?: string; amount?: number; method?: string; pid?: number } = {},
): Promise<Load> {
  const cpuBefore = pid ? cpuMs(pid) : 0;
  const out = await run(path.join('node_modules', '.bin', 'autocannon'), [
    '-c',
    String(c),
    ...(amount ? ['-a', String(amount)] : ['-d', String(ENQUEUE_SECONDS)]),
    '-m',
    method,
    '-H',
    'content-type=application/json',
    '-b',
    body,
    '--json',
    url,
  ]);
  const result = JSON.parse(out.slice(out.indexOf('{')));
  const cpuUs = pid ? ((cpuMs(pid) - cpuBefore) * 1000) / result.requests.total : NaN;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuUs,
  };
}
/** A run that measured something else: answers that were not 2xx, or connections that failed. */
function answeredAll(load: Load, who: string): Load {
  if (load.non2xx) throw new Error(`bench: ${who} answered ${load.non2xx} requests with other than 2xx`);
  if (load.errors) throw new Error(`bench: ${load.errors} of autocannon's connections to ${who} failed`);
  return load;
}
const dundieUrl = (p: number) => `http://127.0.0.1:${p}/user/pwd_reset_token/`;
const enqueue: {
  c: number;
  rps: number;
  p50: number;
  p99: number;
  pgbench: number;
  bare: number;
  koa: number;
  koaP99: number;
  cpuUs: number;
  koaCpuUs: number;
}[] = [];
// pgbench holds one connection per client: at 128 it can exceed the server's max_connections
// (the API needs only its pool of 20 for any number of HTTP clients), so it is capped below that.
const maxConnections = Number((await db.raw('SHOW max_connections')).rows[0].max_connections);
const pgbenchClients = (c: number) => Math.min(c, maxConnections - 40);
let pgbenchMissing = false;
async function pgbench(c: number): Promise<number> {
  await db('outbox_plain').truncate();
  try {
    const pg = await run('pgbench', [
      '-n',
      '-c',
      String(pgbenchClients(c)),
      '-j',
      '2',
      '-T',
      String(ENQUEUE_SECONDS),
      '-f',
      pgbenchScript,
      database.url,
    ]);
    return Number(/tps = ([\d.]+)/.exec(pg)?.[1]);
  } catch (err) {
    pgbenchMissing = true;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return NaN;
  }
}
const ratio = (a: number, b: number) => (Number.isFinite(b) ? fmt(a / b, 2) : '–');
// Warm-up, as a running service is: the JIT, the pool's connections, the first batches.
await autocannon(dundieUrl(port), 32, { amount: WARMUP });
await autocannon(dundieUrl(barePort), 32, { amount: WARMUP });
await autocannon(dundieUrl(koaPort), 32, { amount: WARMUP });
await autocannon(dundieUrl(koaStorePort), 32, { amount: WARMUP });
const stored: { c: number; load: Load }[] = [];
for (const c of CONCURRENCIES) {
  await db('outbox').truncate();
  const result = answeredAll(await autocannon(dundieUrl(port), c, { pid: api.child.pid }), "Dundie's API");
  const tps = await pgbench(c);
  const bareResult = answeredAll(await autocannon(dundieUrl(barePort), c), 'bare node:http');
  const koaResult = answeredAll(await autocannon(dundieUrl(koaPort), c, { pid: koa.child.pid }), 'the Koa floor');
  await db('outbox').truncate();
  const storedLoad = answeredAll(
    await autocannon(dundieUrl(koaStorePort), c, { pid: koaStore.child.pid }),
    'the Koa floor storing each row',
  );
  stored.push({ c, load: storedLoad });
  await db('outbox').truncate();
  const row = {
    c,
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    pgbench: tps,
    bare: bareResult.rps,
    koa: koaResult.rps,
    koaP99: koaResult.p99,
    cpuUs: result.cpuUs,
    koaCpuUs: koaResult.cpuUs,
  };
  enqueue.push(row);
  const capped = pgbenchClients(c) < c ? ` (${pgbenchClients(c)} clients: max_connections ${maxConnections})` : '';
  say(
    `| ${c} | ${fmt(row.rps)} | ${fmt(row.p50, 1)} | ${fmt(row.p99, 1)} | ${pgbenchMissing ? 'no pgbench' : fmt(tps) + capped} | ${fmt(row.bare)} | ${fmt(row.koa)} | ${fmt(row.koaP99, 1)} | ${ratio(row.rps, tps)} | ${ratio(row.rps, row.bare)} | ${ratio(row.rps, row.koa)} | ${fmt(row.cpuUs)} / ${fmt(row.koaCpuUs)} (${ratio(row.cpuUs, row.koaCpuUs)}×) |`,
  );
}
const rss = peakRss(api.child.pid!);
await stopChild(api.child);
await stopChild(koaStore.child);
say('');
say(
  "The Koa floor again, keeping the promise Dundie's 200 makes: each request's row committed to `outbox` before its answer, the rows of requests that arrive together sharing one INSERT, one statement at a time (`bench/koaFloor.ts --store`, run with Dundie's node flags). It counts no per-client limit, which Dundie's statement also does. Measured right after the floor at each concurrency. What is left between it and Dundie is Dundie's per-request work (validation, log, middleware) and its limit's count.",
);
say('');
say(
  '| concurrency | Koa floor storing each row, req/s | p99 ms | CPU µs per request | × Koa floor | Dundie API ÷ it | Dundie CPU ÷ its CPU |',
);
say('|---|---|---|---|---|---|---|');
for (const { c, load } of stored) {
  const e = enqueue.find((row) => row.c === c)!;
  say(
    `| ${c} | ${fmt(load.rps)} | ${fmt(load.p99, 1)} | ${fmt(load.cpuUs)} | ${ratio(load.rps, e.koa)} | ${ratio(e.rps, load.rps)} | ${ratio(e.cpuUs, load.cpuUs)} |`,
  );
}
say('');
say(`Peak RSS of the API process over the enqueue runs: ${fmt(rss, 1)} MB`);

// The first Dundie (FastAPI + uvicorn + RQ), when its address is given: it is not started here
// (its code is not part of this repository), only measured on the same request, in the same run.
let firstDundie: Load | undefined;
if (values.seed) {
  const seedUrl = new URL('/user/pwd_reset_token/', values.seed).href;
  await autocannon(seedUrl, 32, { amount: WARMUP / 4 });
  const first = answeredAll(await autocannon(seedUrl, 32), 'the first Dundie');
  firstDundie = first;
  const at32 = enqueue.find((e) => e.c === 32)!;
  say('');
  say(`## The first Dundie (\`--seed ${values.seed}\`), at concurrency 32`);
  say('');
  say(
    'The same request to the first Dundie (FastAPI + uvicorn, one worker; its route queues an RQ job in Redis and answers), started outside this run, measured right after the table above.',
  );
  say('');
  say('| what | req/s | p50 ms | p99 ms | × pgbench | × Koa floor | Dundie API ÷ first Dundie |');
  say('|---|---|---|---|---|---|---|');
  say(
    `| the first Dundie | ${fmt(first.rps)} | ${fmt(first.p50, 1)} | ${fmt(first.p99, 1)} | ${ratio(first.rps, at32.pgbench)} | ${ratio(first.rps, at32.koa)} | ${ratio(at32.rps, first.rps)} |`,
  );
}

// The default run, as the README starts it: `npm start` (both roles, the dispatcher on its own
// thread), here with e-mails to email.log. The address is a real user's, so the dispatcher works
// (the first row is sent, the rest are skipped by the cooldown) while the API takes requests.
say('');
say(`## The default run: \`npm start\`, both roles in one process, at concurrency 32`);
say('');
say(
  '| what | req/s | p50 ms | p99 ms | pgbench INSERT/s | bare node:http req/s | Koa floor req/s | Koa floor p99 ms | × pgbench | × bare HTTP | × Koa floor | CPU µs per request, Dundie / Koa floor |',
);
say('|---|---|---|---|---|---|---|---|---|---|---|---|');
const startPort = freePort();
const started = await startNode(
  startArgs,
  { ...baseEnv, PORT: String(startPort), DUNDIE_LOG__LEVEL: 'info', DUNDIE_EMAIL__DEBUG_MODE: 'true' },
  logged('dispatcher started'),
);
await autocannon(dundieUrl(startPort), 32, { amount: WARMUP });
await db('outbox').truncate();
const both = answeredAll(await autocannon(dundieUrl(startPort), 32, { pid: started.child.pid }), 'npm start');
const bothTps = await pgbench(32);
const bothBare = answeredAll(await autocannon(dundieUrl(barePort), 32), 'bare node:http');
const bothKoa = answeredAll(await autocannon(dundieUrl(koaPort), 32, { pid: koa.child.pid }), 'the Koa floor');
say(
  `| npm start, valid requests | ${fmt(both.rps)} | ${fmt(both.p50, 1)} | ${fmt(both.p99, 1)} | ${fmt(bothTps)} | ${fmt(bothBare.rps)} | ${fmt(bothKoa.rps)} | ${fmt(bothKoa.p99, 1)} | ${ratio(both.rps, bothTps)} | ${ratio(both.rps, bothBare.rps)} | ${ratio(both.rps, bothKoa.rps)} | ${fmt(both.cpuUs)} / ${fmt(bothKoa.cpuUs)} (${ratio(both.cpuUs, bothKoa.cpuUs)}×) |`,
);
const startRss = peakRss(started.child.pid!);
// Junk, a quarter each, what an anonymous client can send: ~100 KB at the reset request (refused
// by its Content-Length, unread), bodies just under the reset request's own limit, bodies just
// under the limit of the routes open to anyone (/token: read and parsed, then refused), and
// ~100 KB to a route that checks the caller first (a profile: 401, unread).
const limitKb = 100;
const startUrl = (p: string) => `http://127.0.0.1:${startPort}${p}`;
const almost = (kb: number, fill: string) => fill.repeat(kb * 1024 - 64);
const junkRuns = [
  await autocannon(dundieUrl(startPort), 32, {
    body: JSON.stringify({ email: almost(limitKb, 'x') }),
    amount: JUNK / 4,
  }),
  await autocannon(dundieUrl(startPort), 32, {
    body: JSON.stringify({ email: almost(RESET_REQUEST_BODY_KB, 'y') }),
    amount: JUNK / 4,
  }),
  await autocannon(startUrl('/token'), 32, {
    body: JSON.stringify({ username: almost(ANONYMOUS_BODY_KB, 'z') }),
    amount: JUNK / 4,
  }),
  await autocannon(startUrl('/user/bench-1'), 32, {
    method: 'PATCH',
    body: JSON.stringify({ bio: almost(limitKb, 'w') }),
    amount: JUNK / 4,
  }),
];
const junkRss = peakRss(started.child.pid!);
say(
  `| npm start, ${fmt(JUNK)} junk requests (~${limitKb} and ~${RESET_REQUEST_BODY_KB} KB at the reset request, ~${ANONYMOUS_BODY_KB} KB at /token, ~${limitKb} KB at a profile without a token) | ${fmt(junkRuns.reduce((sum, r) => sum + r.rps, 0) / junkRuns.length)} | ${fmt(Math.max(...junkRuns.map((r) => r.p50)), 1)} | ${fmt(Math.max(...junkRuns.map((r) => r.p99)), 1)} | | | | | | | | |`,
);
await stopChild(started.child);
await stopChild(bare.child);
await stopChild(koa.child);
say('');
say(
  `Peak RSS of the \`npm start\` process (both roles): ${fmt(startRss, 1)} MB after the valid requests, ${fmt(junkRss, 1)} MB after the junk.`,
);

// ---------------------------------------------------------------- 2. dispatch
say('');
say(`## Dispatch: ${fmt(ROWS)} due rows, Dundie's dispatcher against graphile-worker doing the same work`);
say('');
say('| transport | processes | Dundie e-mails/s | graphile-worker e-mails/s | ratio |');
say('|---|---|---|---|---|');
const sink = await startNode(['--import', 'tsx', 'bench/smtpSink.ts'], baseEnv, (line) => line.startsWith('{"port"'));
const sinkPort = JSON.parse(sink.line).port;
const httpSecret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const httpSink = await startNode(
  ['--import', 'tsx', 'bench/httpSink.ts'],
  { ...baseEnv, DUNDIE_EMAIL__HTTP_SECRET: httpSecret },
  (line) => line.startsWith('{"port"'),
);
const transports: Record<string, Record<string, string>> = {
  'email.log': { DUNDIE_EMAIL__DEBUG_MODE: 'true' },
  SMTP: {
    DUNDIE_EMAIL__DEBUG_MODE: 'false',
    DUNDIE_EMAIL__SMTP_SERVER: '127.0.0.1',
    DUNDIE_EMAIL__SMTP_PORT: String(sinkPort),
  },
  HTTP: {
    DUNDIE_EMAIL__TRANSPORT: 'http',
    DUNDIE_EMAIL__HTTP_URL: `http://127.0.0.1:${JSON.parse(httpSink.line).port}/`,
    DUNDIE_EMAIL__HTTP_SECRET: httpSecret,
  },
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
    Array.from({ length: processes }, () =>
      startNode(
        dundie(['serve', '--dispatcher']),
        { ...dundieEnv(env), DUNDIE_LOG__LEVEL: 'info' },
        logged('dispatcher started'),
      ),
    ),
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  const batch = rowsFor();
  for (let i = 0; i < batch.length; i += 5000) {
    await db('outbox').insert(
      batch.slice(i, i + 5000).map((email) => ({ kind: 'pwd_reset_email', payload: { email }, max_attempts: 8 })),
    );
  }
  await waitFor(
    'Dundie sent everything',
    async () => (await countOf(db, `SELECT count(*) AS n FROM outbox WHERE status = 'sent'`)) === ROWS,
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => stopChild(w.child)));
  return ROWS / seconds;
}

async function graphileDispatch(env: Record<string, string>, processes: number): Promise<number> {
  // Both sides run the same task, throttle slot included: each starts with no address in cooldown.
  await db('pwd_reset_throttle').truncate();
  const workers = await Promise.all(
    Array.from({ length: processes }, () =>
      startNode(['--import', 'tsx', 'bench/graphileWorker.ts'], env, (line) => line.includes('"ready"')),
    ),
  );
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  const batch = rowsFor();
  for (let i = 0; i < batch.length; i += 5000) {
    await db.raw(
      `SELECT graphile_worker.add_job('pwd_reset_email', json_build_object('email', e)) FROM unnest(?::text[]) e`,
      [batch.slice(i, i + 5000)],
    );
  }
  await waitFor(
    'graphile-worker ran everything',
    async () => (await countOf(db, 'SELECT count(*) AS n FROM graphile_worker.jobs')) === 0,
  );
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
await stopChild(httpSink.child);
say('');
const defaults = loadConfig(baseEnv).dispatcher;
const smtpConnections = loadConfig(baseEnv).email.smtp_connections;
say(
  `Dundie with ${defaults.CONCURRENCY} e-mails in flight per process (its default), graphile-worker with ${GRAPHILE_CONCURRENCY} (its better of 64 and 256 on the development machine), both through the same mailer (an SMTP pool of ${smtpConnections} connections; over HTTP, Node's fetch to the reference receiver of docs/examples, signatures checked); graphile-worker ${JSON.parse(readFileSync('node_modules/graphile-worker/package.json', 'utf8')).version} otherwise with its defaults.`,
);

// ---------------------------------------------------------------- 3. latency
await db.destroy();
const latencyOut = await run(
  process.execPath,
  ['--import', 'tsx', 'bench/latency.ts', '--requests', String(LATENCY_REQUESTS), '--rate', '20'],
  {
    DATABASE_URL: database.adminUrl,
  },
);
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
// The distance to the Koa floor, measured in this run, is the target (no service on this stack can pass the floor).
for (const e of enqueue) {
  say(
    `- API role ≥ 0.6 × the Koa floor at concurrency ${e.c}: ${check(e.rps >= 0.6 * e.koa)} (${ratio(e.rps, e.koa)}); p99 ≤ 2 × the floor's: ${check(e.p99 <= 2 * e.koaP99)} (${fmt(e.p99, 1)} ms against ${fmt(e.koaP99, 1)} ms)`,
  );
}
say(
  `- API role's CPU per answered request ≤ 2 × the Koa floor's at concurrency 32: ${check(at32.cpuUs <= 2 * at32.koaCpuUs)} (${fmt(at32.cpuUs)} µs against ${fmt(at32.koaCpuUs)} µs, ${ratio(at32.cpuUs, at32.koaCpuUs)}×)`,
);
say(
  `- npm start (both roles) ≥ 0.3 × the Koa floor at concurrency 32: ${check(both.rps >= 0.3 * bothKoa.rps)} (${ratio(both.rps, bothKoa.rps)}; CPU per request ${fmt(both.cpuUs)} µs, both roles)`,
);
say(
  firstDundie
    ? `- npm start ≥ 2.5 × the first Dundie, with a lower p99: ${check(both.rps >= 2.5 * firstDundie.rps && both.p99 < firstDundie.p99)} (${ratio(both.rps, firstDundie.rps)}; p99 ${fmt(both.p99, 1)} ms against ${fmt(firstDundie.p99, 1)} ms)`
    : '- npm start ≥ 2.5 × the first Dundie: not measured (no `--seed URL`)',
);
const stored32 = stored.find((s) => s.c === 32)!.load;
say(
  `- for scale, at concurrency 32: the Koa floor ${fmt(at32.koa)} req/s = ${ratio(at32.koa, at32.pgbench)} × pgbench, ${ratio(at32.koa, at32.bare)} × bare node:http; Dundie's API ${ratio(at32.rps, at32.pgbench)} × pgbench, ${ratio(at32.rps, at32.bare)} × bare node:http; the Koa floor storing each row ${fmt(stored32.rps)} req/s = ${ratio(stored32.rps, at32.koa)} × the floor, ${fmt(stored32.cpuUs)} µs CPU per request`,
);
const oneProcess = (transport: string) => dispatch.find((d) => d.transport === transport && d.processes === 1)!.dundie;
say(
  `- delivery from one process ≥ 2,000 e-mails/s to email.log: ${check(oneProcess('email.log') >= 2000)} (${fmt(oneProcess('email.log'))}); ≥ 1,000/s to an SMTP sink: ${check(oneProcess('SMTP') >= 1000)} (${fmt(oneProcess('SMTP'))})`,
);
say(
  `- dispatch ≥ 1.0 × graphile-worker in both transports: ${check(dispatch.every((d) => d.dundie >= d.graphile))} (${dispatch.map((d) => `${d.transport}/${d.processes}: ${fmt(d.dundie / d.graphile, 2)}`).join(', ')})`,
);
say(`- enqueue-to-sent p99 under 20 ms at 20 requests/s: ${check(latencyP99 < 20)} (${fmt(latencyP99, 1)} ms)`);
const peak = Math.max(rss, startRss, junkRss);
say(
  `- peak RSS under 150 MB (API alone; npm start, junk included): ${check(peak < 150)} (${fmt(rss, 1)} MB; ${fmt(Math.max(startRss, junkRss), 1)} MB)`,
);

// ---------------------------------------------------------------- 5. scaling out
say('');
const scaleOut = await run('node', ['--import', 'tsx', 'bench/scaleOut.ts', ...(quick ? ['--quick'] : [])], {
  DATABASE_URL: database.adminUrl,
});
for (const line of scaleOut.trimEnd().split('\n')) say(line);

if (!quick) writeFileSync('bench/RESULTS.md', lines.join('\n') + '\n');
await database.close();
rmSync(work, { recursive: true, force: true });
process.exit(0);
