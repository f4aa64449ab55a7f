/**
 * Does the answer to POST /user/pwd_reset_token/ tell a known address from an unknown one by its
 * time? 2,000 requests of each kind, interleaved, one at a time over a kept-alive connection;
 * prints both medians, their difference, and a Mann–Whitney U test. A benchmark, not a test.
 *
 *   npm run bench:timing [-- --requests 2000]
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { createDb } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';
import { makeUser } from '../test/helpers/factories.ts';
import { benchConfig, benchDatabase, machineLine, mannWhitney, median, quantile } from './support.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const perKind = Number(values.requests);

const database = await benchDatabase();
const config = benchConfig(database.url);
const service = await startService(config, createLogger(config), { api: true, dispatcher: false });
const db = createDb(database.url);
await makeUser(db, { email: 'known.person@dm.com' });
await db.destroy();

const url = `http://127.0.0.1:${service.port}/user/pwd_reset_token/`;
const ask = async (email: string) => {
  const started = process.hrtime.bigint();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
};

// Warm up the pool, the JIT and the connection.
for (let i = 0; i < 200; i++) await ask(i % 2 ? 'known.person@dm.com' : `nobody-${i}@dm.com`);

const knownTimes: number[] = [];
const unknownTimes: number[] = [];
for (let i = 0; i < perKind; i++) {
  // Alternate which kind goes first, so drift over the run falls on both equally.
  if (i % 2) {
    knownTimes.push(await ask('known.person@dm.com'));
    unknownTimes.push(await ask(`nobody-${i}@dm.com`));
  } else {
    unknownTimes.push(await ask(`nobody-${i}@dm.com`));
    knownTimes.push(await ask('known.person@dm.com'));
  }
}

const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
const mk = median(knownTimes);
const mu = median(unknownTimes);
const test = mannWhitney(knownTimes, unknownTimes);
console.log(`timing of POST /user/pwd_reset_token/, ${perKind} requests per kind, interleaved, one at a time`);
console.log(`machine: ${machineLine(database.serverVersion)}`);
console.log(`known address   median ${mk.toFixed(3)} ms  p90 ${quantile(sorted(knownTimes), 0.9).toFixed(3)} ms`);
console.log(`unknown address median ${mu.toFixed(3)} ms  p90 ${quantile(sorted(unknownTimes), 0.9).toFixed(3)} ms`);
console.log(`difference of medians ${(mk - mu).toFixed(3)} ms (${(((mk - mu) / mu) * 100).toFixed(1)} %)`);
console.log(`Mann–Whitney U = ${test.u.toFixed(0)}, z = ${test.z.toFixed(2)}, two-sided p = ${test.p.toFixed(3)}`);
console.log(
  test.p < 0.01 ? 'the two kinds differ at the 1 % level: investigate' : 'no difference detected at the 1 % level',
);

await service.stop();
await database.close();
