/**
 * Does a failed POST /user/pwd_reset_code/ tell a known address from an unknown one by its time?
 * Two pairs, each interleaved, one request at a time: addresses that asked for an e-mail (a live
 * code in their slot, its tries set back between rounds so it stays live), and addresses that
 * never asked (no slot). Every guess is wrong. Prints medians and a Mann–Whitney U test per pair.
 *
 *   npx tsx bench/codeTiming.ts [--requests 1000]
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { resetCodeHash } from '../src/auth/resetCodes.ts';
import { createDb } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';
import { takeResetSlotsAndRenewNonces } from '../src/users/resetThrottle.ts';
import { makeUser } from '../test/helpers/factories.ts';
import { benchConfig, benchDatabase, machineLine, mannWhitney, median } from './support.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1000' } } });
const perKind = Number(values.requests);

const database = await benchDatabase();
const config = benchConfig(database.url);
const service = await startService(config, createLogger(config), { api: true, dispatcher: false });
const db = createDb(database.url);
await makeUser(db, { email: 'known.asked@dm.com' });
await makeUser(db, { email: 'known.quiet@dm.com' });
// What the dispatcher writes when it sends: a slot with a code, for the unknown address too.
await takeResetSlotsAndRenewNonces(
  db,
  0,
  ['known.asked@dm.com', 'nobody.asked@dm.com'].map((email, i) => ({
    email,
    outboxId: String(i + 1),
    nonce: `n${i}`,
    codeHash: resetCodeHash(config.security.SECRET_KEY, '31415926'),
  })),
  3600,
  { codeSeconds: 3600 },
);

const url = `http://127.0.0.1:${service.port}/user/pwd_reset_code/`;
const guess = async (email: string) => {
  const started = process.hrtime.bigint();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, code: '27182818' }),
  });
  await res.arrayBuffer();
  if (res.status !== 400) throw new Error(`status ${res.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
};
const liveAgain = () => db('pwd_reset_throttle').update({ code_tries: 0 });

async function pair(known: string, unknown: string, between: () => Promise<unknown>) {
  for (let i = 0; i < 100; i++) {
    await guess(known);
    await guess(unknown);
    await between();
  }
  const k: number[] = [];
  const u: number[] = [];
  for (let i = 0; i < perKind; i++) {
    if (i % 2) {
      k.push(await guess(known));
      u.push(await guess(unknown));
    } else {
      u.push(await guess(unknown));
      k.push(await guess(known));
    }
    await between();
  }
  const test = mannWhitney(k, u);
  console.log(
    `${known} vs ${unknown}: medians ${median(k).toFixed(3)} / ${median(u).toFixed(3)} ms, ` +
      `U = ${test.u.toFixed(0)}, z = ${test.z.toFixed(2)}, p = ${test.p.toFixed(3)}`,
  );
}

console.log(`timing of a wrong POST /user/pwd_reset_code/, ${perKind} per kind, interleaved, one at a time`);
console.log(`machine: ${machineLine(database.serverVersion)}`);
await pair('known.asked@dm.com', 'nobody.asked@dm.com', liveAgain);
await pair('known.quiet@dm.com', 'nobody.quiet@dm.com', () => Promise.resolve());

await db.destroy();
await service.stop();
await database.close();
