/**
 * Enqueue-to-sent delay at a low steady rate: N reset requests (for real users, so each is sent),
 * then `processed_at - created_at` of their rows, median and p99. A warm-up at the same rate
 * comes first, as in the throughput runs, and is reported on its own: the first rows after a
 * start wait for what each new database connection and the JIT do once.
 *
 *   npm run bench:latency [-- --requests 500 --warmup 40 --rate 20 --listen false --cron "* * * * * *"]
 *
 * `--listen false` is the design before LISTEN/NOTIFY: only the cron tick claims.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDb } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';
import { isEntry } from '../src/runtime.ts';
import { seedUsers } from './seed.ts';
import { benchConfig, benchDatabase, machineLine, quantile } from './support.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '40' },
    rate: { type: 'string', default: '20' },
    listen: { type: 'string', default: 'true' },
    cron: { type: 'string', default: '*/5 * * * * *' },
  },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const rate = Number(values.rate);

export async function measureLatency() {
  const database = await benchDatabase();
  const work = mkdtempSync(path.join(tmpdir(), 'dundie-latency-'));
  const config = benchConfig(database.url, {
    DUNDIE_EMAIL__LOG_FILE: path.join(work, 'email.log'),
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '0',
    DUNDIE_DISPATCHER__LISTEN: values.listen,
    DUNDIE_DISPATCHER__CRON: values.cron,
  });
  const service = await startService(config, createLogger(config), { api: true, dispatcher: true });
  const db = createDb(database.url);
  const emails = await seedUsers(db, 50, 'latency');
  await new Promise((r) => setTimeout(r, 500));

  const send = async (count: number) => {
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const res = await fetch(`http://127.0.0.1:${service.port}/user/pwd_reset_token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: emails[i % emails.length] }),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    }
    for (;;) {
      const [row] = await db('outbox').whereNot({ status: 'sent' }).count({ n: '*' });
      if (Number(row?.n) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { rows } = await db.raw(
      `SELECT extract(epoch FROM processed_at - created_at) * 1000 AS ms FROM outbox ORDER BY id`,
    );
    await db('outbox').delete();
    return rows.map((r: { ms: string }) => Number(r.ms)) as number[];
  };
  const cold = await send(warmup);
  const ms = (await send(requests)).sort((a, b) => a - b);
  await db.destroy();
  await service.stop();
  await database.close();
  rmSync(work, { recursive: true, force: true });
  return {
    median: quantile(ms, 0.5),
    p99: quantile(ms, 0.99),
    max: ms.at(-1) as number,
    count: ms.length,
    cold,
    serverVersion: database.serverVersion,
  };
}

if (isEntry(import.meta)) {
  const r = await measureLatency();
  console.log(
    `enqueue-to-sent delay, ${r.count} requests at ${rate}/s, LISTEN ${values.listen}, cron "${values.cron}", e-mail to email.log`,
  );
  console.log(`machine: ${machineLine(r.serverVersion)}`);
  console.log(`median ${r.median.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`);
  if (r.cold.length > 0) {
    const first = r.cold.slice(0, 3).map((m) => m.toFixed(1));
    console.log(
      `before them, from a fresh start, ${r.cold.length} requests not counted: the first three ${first.join(', ')} ms, the slowest ${Math.max(...r.cold).toFixed(1)} ms`,
    );
  }
}
