/**
 * `npx tsx bench/scaleOut.ts [--quick]`: Dundie past one process, on the database DATABASE_URL
 * names (or a throwaway embedded one). `npm run bench` runs it and adds its tables to RESULTS.md.
 *
 * 1. Statements: the API role (one process) under autocannon at concurrency 32, three ways in
 *    turn, twice: named statements on a direct connection (the default there), unnamed ones
 *    (`PREPARED_STATEMENTS=false`), and through PgBouncer in transaction mode (unnamed, found by
 *    itself). The ratios are against the first: what a pooler and unnamed statements cost.
 * 2. Replicas: N API and M dispatcher processes on one database under a steady load of reset
 *    requests for real users (so each is sent): the rate answered, enqueue-to-sent p50/p99 from
 *    the rows, how the e-mails split between the dispatchers, and addresses mailed twice.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDb } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { PGBOUNCER, startPgbouncer, targetOf } from '../test/helpers/pgbouncer.ts';
import { cliEnv, startServe } from '../test/helpers/process.ts';
import { duplicates, startReplicas, steadyLoad } from './cluster.ts';
import { seedUsers } from './seed.ts';
import { benchDatabase, quantile } from './support.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = Boolean(values.quick);
const SECONDS = quick ? 2 : 8;
const SHAPES = quick
  ? [[2, 2]]
  : [
      [1, 1],
      [2, 2],
      [4, 4],
    ];
const RATE = quick ? 200 : 500;
const LOAD_SECONDS = quick ? 3 : 10;

const database = await benchDatabase();
const work = mkdtempSync(path.join(tmpdir(), 'dundie-scale-'));
const setup = createDb(database.url, { timeoutSeconds: 120 });
await migrateLatest(setup);
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
const env = { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000000', DUNDIE_LOG__LEVEL: 'info' };

function autocannon(url: string): Promise<{ rps: number; p99: number; non2xx: number }> {
  return new Promise((resolve, reject) => {
    const args = ['-c', '32', '-d', String(SECONDS), '-m', 'POST', '-H', 'content-type=application/json'];
    const body = JSON.stringify({ email: 'scale-1@dm.com' });
    const child = spawn(path.join('node_modules', '.bin', 'autocannon'), [...args, '-b', body, '--json', url]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      const r = JSON.parse(out.slice(out.indexOf('{')));
      resolve({ rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx });
    });
  });
}

try {
  console.log('## Scaling out');
  console.log('');
  console.log('### Named statements, unnamed ones, and PgBouncer (API role, c=32)');
  console.log('');
  const pgbouncer = PGBOUNCER ? await startPgbouncer(targetOf(database.url)) : undefined;
  const ways: [string, string, Record<string, string>][] = [
    ['direct, named statements', database.url, {}],
    ['direct, unnamed (`PREPARED_STATEMENTS=false`)', database.url, { DUNDIE_DATABASE__PREPARED_STATEMENTS: 'false' }],
  ];
  if (pgbouncer)
    ways.push([
      'PgBouncer 1.18, transaction mode (auto: unnamed)',
      pgbouncer.url(new URL(database.url).pathname.slice(1)),
      {},
    ]);
  const results = new Map<string, { rps: number[]; p99: number[] }>();
  for (let round = 0; round < 2; round++) {
    for (const [name, url, extra] of ways) {
      const api = await startServe(['--api'], cliEnv(url, { ...env, ...extra, DUNDIE_DATABASE__POOL_MAX: '20' }));
      const r = await autocannon(`http://127.0.0.1:${api.port}/user/pwd_reset_token/`);
      api.child.kill('SIGTERM');
      await api.exited;
      const entry = results.get(name) ?? { rps: [], p99: [] };
      entry.rps.push(r.rps);
      entry.p99.push(r.p99);
      results.set(name, entry);
      if (r.non2xx > 0) console.log(`(${name}: ${r.non2xx} answers not 2xx)`);
    }
  }
  await pgbouncer?.stop();
  const first = results.values().next().value!;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log('| how | req/s (two rounds) | p99 ms | × direct, named |');
  console.log('|---|---|---|---|');
  for (const [name, r] of results) {
    console.log(
      `| ${name} | ${r.rps.map(fmt).join(' / ')} | ${r.p99.join(' / ')} | ${(mean(r.rps) / mean(first.rps)).toFixed(2)} |`,
    );
  }
  console.log('');

  console.log(`### Replicas on one database (${RATE} requests/s offered for ${LOAD_SECONDS} s, e-mails to email.log)`);
  console.log('');
  console.log(
    '| API + dispatcher processes | answered 200/s | not 200 | enqueue-to-sent p50 / p99 ms | e-mails per dispatcher | addresses mailed twice |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [apis, dispatchers] of SHAPES) {
    await setup('outbox').truncate();
    await setup('users').del();
    const emails = await seedUsers(setup, RATE * (LOAD_SECONDS + 2), `scale${apis}x${dispatchers}`);
    const dir = mkdtempSync(path.join(work, 'replicas-'));
    const replicas = await startReplicas(database.url, dir, { apis: apis!, dispatchers: dispatchers!, env });
    const started = performance.now();
    const answers = await steadyLoad(replicas.urls, emails, {
      rate: RATE,
      until: () => performance.now() - started > LOAD_SECONDS * 1000,
      clients: 64,
    });
    const elapsed = (performance.now() - started) / 1000;
    const ok = answers.filter((a) => a.status === 200).length;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const [row] = await setup('outbox').whereIn('status', ['pending', 'sending']).count<{ n: string }[]>({ n: '*' });
      if (Number(row!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await setup.raw<{ rows: { ms: number }[] }>(
      "SELECT extract(epoch FROM processed_at - created_at) * 1000 AS ms FROM outbox WHERE status = 'sent' ORDER BY 1",
    );
    const delays = rows.map((r) => Number(r.ms));
    const sentBy = replicas.sentBy();
    await replicas.stop();
    console.log(
      `| ${apis} + ${dispatchers} | ${fmt(ok / elapsed)} | ${answers.length - ok} | ${quantile(delays, 0.5).toFixed(1)} / ${quantile(delays, 0.99).toFixed(1)} | ${sentBy.map((s) => fmt(s.length)).join(' / ')} | ${duplicates(sentBy)} |`,
    );
  }
  console.log('');
} finally {
  await setup.destroy();
  await database.close();
  rmSync(work, { recursive: true, force: true });
}
