/**
 * Memory under junk (issue 14, item 8): the API as its own process (tsx, as `npm start` runs it),
 * 4,000 junk requests at 50 at a time (bad JSON, bodies at and over the limit, wrong content
 * types, invalid addresses, unknown paths, deep nesting), RSS of the process sampled every 100 ms.
 * Prints the RSS before, at its peak, right after and 10 s after. Target: peak < 150 MB.
 * The service runs with the Dockerfile's NODE_OPTIONS (or BENCH_NODE_OPTIONS, to compare).
 *
 *   DATABASE_URL=postgres://... npx tsx bench/junk.ts [requests] [concurrency]
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { cliEnv, startServe } from '../test/helpers/process.ts';
import { benchDatabase } from './support.ts';

const total = Number(process.argv[2] ?? 4000);
const concurrency = Number(process.argv[3] ?? 50);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const big = 'x'.repeat(99 * 1024);
const tooBig = 'y'.repeat(300 * 1024);
const allJunk: { path: string; type?: string; body: string }[] = [
  { path: '/user/pwd_reset_token/', type: 'application/json', body: '{"email": ' },
  { path: '/user/pwd_reset_token/', type: 'application/json', body: JSON.stringify({ email: big }) },
  { path: '/user/pwd_reset_token/', type: 'application/json', body: JSON.stringify({ email: tooBig }) },
  { path: '/user/pwd_reset_token/', type: 'application/json', body: JSON.stringify({ email: 'not an address' }) },
  { path: '/user/pwd_reset_token/', type: 'text/plain', body: big },
  { path: '/user/pwd_reset_token/', type: 'application/x-www-form-urlencoded', body: `email=${big}` },
  { path: '/user/pwd_reset_token/', type: 'application/json', body: '['.repeat(5000) + ']'.repeat(5000) },
  { path: '/token', type: 'application/json', body: JSON.stringify({ username: big, password: big }) },
  { path: '/user/no-such-user/password/?pwd_reset_token=' + 'z'.repeat(4000), type: 'application/json', body: '{}' },
  { path: '/nope/' + 'a'.repeat(2000), body: '' },
];

// BENCH_JUNK=1,4: only those kinds (to find which one holds memory).
const junk = process.env.BENCH_JUNK ? process.env.BENCH_JUNK.split(',').map((i) => allJunk[Number(i)]!) : allJunk;

const db = await benchDatabase();
// The image's NODE_OPTIONS (the Dockerfile's line, as bench/run.ts reads it), unless BENCH_NODE_OPTIONS says otherwise.
const nodeOptions =
  process.env.BENCH_NODE_OPTIONS ?? /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1] ?? '';
console.log(`NODE_OPTIONS=${nodeOptions}`);
const service = await startServe(
  ['--api'],
  cliEnv(db.url, {
    NODE_OPTIONS: nodeOptions,
    DUNDIE_LOG__LEVEL: 'info',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '0',
    DUNDIE_SECURITY__RATE_LIMIT_LOGIN_PER_MINUTE: '0',
  }),
);
// The service writes a log line per request: read them as a real log collector would.
service.child.stdout!.resume();
const pid = service.child.pid!;
try {
  await sleep(1000);
  const before = rssMb(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const statuses = new Map<number, number>();
  let sent = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        const j = junk[sent++ % junk.length]!;
        const status = await fetch(`http://127.0.0.1:${service.port}${j.path}`, {
          method: 'POST',
          headers: j.type ? { 'content-type': j.type } : {},
          body: j.body,
        }).then(
          async (r) => (await r.arrayBuffer(), r.status),
          () => 0,
        );
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const after = rssMb(pid);
  await sleep(10_000);
  clearInterval(sampler);
  const later = rssMb(pid);
  console.log(
    `${total} junk requests, ${concurrency} at a time, in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  const metrics = await fetch(`http://127.0.0.1:${service.port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const heap = metrics
    .split('\n')
    .filter((l) =>
      /^(nodejs_heap_size_(used|total)_bytes|nodejs_external_memory_bytes|nodejs_heap_space_size_used_bytes)/.test(l),
    );
  if (process.env.BENCH_VERBOSE)
    console.log(heap.map((l) => l.replace(/ (\d+)$/, (_, n) => ` ${(Number(n) / 2 ** 20).toFixed(1)} MB`)).join('\n'));
  console.log(
    `RSS MB: before ${before.toFixed(1)}, peak ${peak.toFixed(1)}, right after ${after.toFixed(1)}, 10 s later ${later.toFixed(1)} (target: peak < 150)`,
  );
} finally {
  service.child.kill('SIGTERM');
  await service.exited;
  await db.close();
}
