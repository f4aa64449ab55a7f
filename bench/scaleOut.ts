/**
 * `npx tsx bench/scaleOut.ts [--quick]`: Dundie past one process, on the database DATABASE_URL
 * names (or a throwaway embedded one). `npm run bench` runs it and adds its tables to RESULTS.md.
 *
 * 1. Statements: the API role (one process) under autocannon at concurrency 32, three ways in
 *    turn, twice: named statements on a direct connection (the default there), unnamed ones
 *    (`PREPARED_STATEMENTS=false`), and through PgBouncer in transaction mode (unnamed, found by
 *    itself). The ratios are against the first: what a pooler and unnamed statements cost.
 * 2. Replicas: N API and M dispatcher processes on one database, autocannon on each API replica
 *    (c=32 in all), each request for an address of its own (unknown: the dispatcher looks it up
 *    and skips it): requests answered, rows finished per second, enqueue-to-finished p50/p99 from
 *    the rows, how the rows split between the dispatchers (their /metrics), and rows finished twice.
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
import { startReplicas } from './cluster.ts';
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

const database = await benchDatabase();
const work = mkdtempSync(path.join(tmpdir(), 'dundie-scale-'));
const setup = createDb(database.url, { timeoutSeconds: 120 });
await migrateLatest(setup);
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
const env = { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000000', DUNDIE_LOG__LEVEL: 'info' };

/** `unique`: each request for an address of its own (autocannon's `[<id>]`), so none is throttled. */
function autocannon(
  url: string,
  { connections = 32, unique = false } = {},
): Promise<{ rps: number; p99: number; non2xx: number }> {
  return new Promise((resolve, reject) => {
    const args = [
      '-c',
      String(connections),
      '-d',
      String(SECONDS),
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
    ];
    const body = JSON.stringify({ email: unique ? 'scale-[<id>]@dm.com' : 'scale-1@dm.com' });
    const child = spawn(path.join('node_modules', '.bin', 'autocannon'), [
      ...args,
      ...(unique ? ['-I'] : []),
      '-b',
      body,
      '--json',
      url,
    ]);
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

  console.log(
    `### Replicas on one database (autocannon, c=32 spread over the API replicas, ${SECONDS} s, a new unknown address each request)`,
  );
  console.log('');
  console.log(
    'Every process shares the two cores with the others and with autocannon and PostgreSQL: more processes add no CPU here, they show that rows are shared out fairly, none twice, and the limits hold.',
  );
  console.log('');
  console.log(
    '| API + dispatcher processes | requests/s answered 200 | not 200 | rows finished/s | enqueue-to-finished p50 / p99 ms | rows per dispatcher | rows finished twice |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [apis, dispatchers] of SHAPES) {
    await setup('outbox').truncate();
    const dir = mkdtempSync(path.join(work, 'replicas-'));
    const replicas = await startReplicas(database.url, dir, { apis: apis!, dispatchers: dispatchers!, env });
    const loads = await Promise.all(
      replicas.urls.map((url) =>
        autocannon(`${url}/user/pwd_reset_token/`, { connections: Math.ceil(32 / apis!), unique: true }),
      ),
    );
    for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
      const [row] = await setup('outbox').whereIn('status', ['pending', 'sending']).count<{ n: string }[]>({ n: '*' });
      if (Number(row!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await setup.raw<{ rows: { ms: number }[] }>(
      "SELECT extract(epoch FROM processed_at - created_at) * 1000 AS ms FROM outbox WHERE status IN ('sent', 'skipped') ORDER BY 1",
    );
    const [span] = (
      await setup.raw<{ rows: { seconds: number }[] }>(
        'SELECT extract(epoch FROM max(processed_at) - min(created_at)) AS seconds FROM outbox',
      )
    ).rows;
    const delays = rows.map((r) => Number(r.ms));
    const finished = await replicas.finishedBy();
    await replicas.stop();
    const ok = loads.reduce((n, l) => n + l.rps, 0);
    const total = finished.reduce((a, b) => a + b, 0);
    console.log(
      `| ${apis} + ${dispatchers} | ${fmt(ok)} | ${loads.reduce((n, l) => n + l.non2xx, 0)} | ${fmt(rows.length / Number(span!.seconds))} | ${quantile(delays, 0.5).toFixed(1)} / ${quantile(delays, 0.99).toFixed(1)} | ${finished.map(fmt).join(' / ')} | ${total - rows.length} |`,
    );
  }
  console.log('');
} finally {
  await setup.destroy();
  await database.close();
  rmSync(work, { recursive: true, force: true });
}
