/**
 * Fault runs for the README's Reliability figures (issue 14):
 *
 * 1. kill -9 of a dispatcher mid-drain, with the default lease (30 s): how long until every row it
 *    held is sent by another dispatcher started at once, and how many e-mails went out twice.
 * 2. An SMTP outage on a compressed clock (GIVE_UP_AFTER 120 s, backoff 1-8 s, the shipped 5 s
 *    cron tick): every row refused with 451 for 90 s, then accepted; none goes dead, all are sent,
 *    and the retries are spread (the largest number of tries in any one second).
 *
 *   DATABASE_URL=postgres://... npx tsx bench/recovery.ts [crash|outage]
 */
import process from 'node:process';
import { createDb } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { seedResetRequests } from '../test/helpers/factories.ts';
import { cliEnv, startServe, type ServiceProcess } from '../test/helpers/process.ts';
import { smtpEnv, startSmtpSink } from '../test/helpers/smtp.ts';
import { benchDatabase } from './support.ts';

const which = process.argv[2];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}

const bdb = await benchDatabase();
const db = createDb(bdb.url);
await migrateLatest(db);
const children: ServiceProcess[] = [];
const count = async (status: string) => Number((await db('outbox').where({ status }).count({ n: '*' }))[0]!.n);
const dispatcher = async (env: Record<string, string>) => {
  const s = await startServe(['--dispatcher'], cliEnv(bdb.url, { DUNDIE_DISPATCHER__CRON: '* * * * * *', ...env }));
  children.push(s);
  return s;
};

try {
  if (!which || which === 'crash') {
    const rows = 2000;
    const smtp = await startSmtpSink(() => false, 20, 0, { parse: false });
    await seedResetRequests(db, rows, 'crash');
    const env = smtpEnv(smtp);
    const first = await dispatcher(env);
    await until(() => smtp.recipients.length >= 300, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    const held = (await db('outbox').where({ status: 'sending' }).pluck('id')).map(String);
    await dispatcher(env);
    await until(
      async () =>
        Number((await db('outbox').whereIn('id', held).where({ status: 'sent' }).count({ n: '*' }))[0]!.n) ===
        held.length,
      120_000,
    );
    const recovered = (Date.now() - killedAt) / 1000;
    await until(async () => (await count('sent')) === rows, 120_000);
    await sleep(500);
    const duplicates = smtp.recipients.length - new Set(smtp.recipients).size;
    console.log(
      `crash: kill -9 with ${held.length} rows held (lease 30 s): all of them sent ${recovered.toFixed(1)} s after the kill; ${duplicates} e-mails sent twice of ${rows}; every address received: ${new Set(smtp.recipients).size === rows}`,
    );
    await smtp.close();
    for (const c of children.splice(0)) c.child.kill('SIGKILL');
    await db('outbox').del();
    await db('users').del();
  }
  if (!which || which === 'outage') {
    const rows = 300;
    let down = true;
    const tries: number[] = [];
    const smtp = await startSmtpSink(() => (tries.push(Date.now()), down ? 451 : false), 0, 0, { parse: false });
    await seedResetRequests(db, rows, 'outage');
    const started = Date.now();
    await dispatcher({
      ...smtpEnv(smtp),
      // The shipped tick: retries must come when their backoff says, not when the tick does.
      DUNDIE_DISPATCHER__CRON: '*/5 * * * * *',
      DUNDIE_DISPATCHER__GIVE_UP_AFTER: '120s',
      DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '1',
      DUNDIE_DISPATCHER__BACKOFF_MAX_SECONDS: '8',
    });
    await sleep(90_000);
    down = false;
    const upAt = Date.now();
    await until(async () => (await count('sent')) + (await count('dead')) === rows, 60_000);
    const drained = (Date.now() - upAt) / 1000;
    const perSecond = new Map<number, number>();
    for (const at of tries.filter((at) => at > started + 20_000 && at < upAt))
      perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    const busiest = Math.max(...perSecond.values());
    const mean = [...perSecond.values()].reduce((a, b) => a + b, 0) / perSecond.size;
    console.log(
      `outage: SMTP refusing (451) for 90 s with GIVE_UP_AFTER 120 s, backoff 1-8 s, ${rows} rows: ${await count('sent')} sent, ${await count('dead')} dead, all out ${drained.toFixed(1)} s after SMTP came back; retries from 20 s on: mean ${mean.toFixed(1)}/s, busiest second ${busiest}`,
    );
    await smtp.close();
  }
} finally {
  for (const c of children) c.child.kill('SIGKILL');
  await db.destroy();
  await bdb.close();
}
