/**
 * `npx tsx bench/failover.ts [--quick] [--async] [--direct] [--check]`: a PostgreSQL failover under load, as
 * an operator runs one. A primary and a streaming replica (`pg_basebackup -R`) from the machine's
 * server binaries, PgBouncer in transaction mode in front for the pools and one in session mode
 * for LISTEN, two API and two dispatcher processes under a steady load of reset requests for
 * real users. Mid-load the primary is killed (`pg_ctl -m immediate`), the replica promoted two
 * seconds later and both PgBouncers pointed at it (`RELOAD`); no Dundie process is restarted.
 *
 * Prints: requests answered 200 / 503 / 500 / unanswered, 200s without a row on the new primary
 * (with `synchronous_standby_names = '*'`, the default here, there must be none; `--async` shows
 * what asynchronous replication loses), how long the 503s lasted, how soon after the promotion
 * requests were answered 200 again and the dispatchers sent again, e-mails sent and duplicated.
 * `--direct`: no PgBouncer; the processes connect to the primary, and after the promotion new
 * ones are started against the replica (the load moves to them) and the old ones stopped, as a
 * deployment that fails over by DNS or by configuration does.
 * `--check` exits 1 unless: no 500, no acknowledged request lost (synchronous), 200s again within
 * 10 s of the promotion, the dispatchers sending again, and no process exited. CI runs `--quick --check`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDb } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { startPgbouncer } from '../test/helpers/pgbouncer.ts';
import { removeCluster, startPrimary, startReplica } from '../test/helpers/postgresCluster.ts';
import { duplicates, startReplicas, steadyLoad } from './cluster.ts';
import { seedUsers } from './seed.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    async: { type: 'boolean' },
    direct: { type: 'boolean' },
    check: { type: 'boolean' },
  },
});
const quick = Boolean(values.quick);
const synchronous = !values.async;
const direct = Boolean(values.direct);
const RATE = quick ? 100 : 200;
const BEFORE_KILL_S = quick ? 4 : 10;
const KILL_TO_PROMOTE_S = 2;
const AFTER_PROMOTE_S = quick ? 12 : 30;
const RECOVERY_TARGET_S = 10;

const say = (line: string) => console.log(line);
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

const primary = await startPrimary({ synchronous });
const replica = await startReplica(primary);
const target = (port: number) => ({ host: '127.0.0.1', port, user: 'postgres' });
const pools = direct ? undefined : await startPgbouncer(target(primary.port), { settings: { query_wait_timeout: 5 } });
const listens = direct ? undefined : await startPgbouncer(target(primary.port), { poolMode: 'session' });
type Replicas = Awaited<ReturnType<typeof startReplicas>>;
let replicas: Replicas | undefined;
/** Processes stopped after the promotion (--direct): their e-mails still count. */
let retired: Replicas | undefined;

try {
  const admin = new pg.Client({ connectionString: primary.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE dundie');
  await admin.end();
  const setup = createDb(primary.url('dundie'), { timeoutSeconds: 60 });
  await migrateLatest(setup);
  const total = RATE * (BEFORE_KILL_S + KILL_TO_PROMOTE_S + AFTER_PROMOTE_S + 5);
  const emails = await seedUsers(setup, total, 'failover');
  await setup.destroy();

  const env = {
    ...(listens ? { DUNDIE_DATABASE__LISTEN_URL: listens.url('dundie') } : {}),
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1000000',
  };
  const first = path.join(primary.root, 'before');
  mkdirSync(first);
  replicas = await startReplicas(pools?.url('dundie') ?? primary.url('dundie'), first, {
    apis: 2,
    dispatchers: 2,
    env,
  });
  const urls = [...replicas.urls];
  say(
    `failover: PostgreSQL ${synchronous ? 'synchronous' : 'asynchronous'} streaming replica, ${direct ? 'no pooler: new processes started against the promoted replica' : 'PgBouncer (transaction; session for LISTEN), no process restarted'}, 2 API + 2 dispatcher processes, ${RATE} req/s`,
  );

  let done = false;
  const loadStart = Date.now();
  const load = steadyLoad(urls, emails, { rate: RATE, until: () => done });
  await sleep(BEFORE_KILL_S);
  const killedAt = Date.now() - loadStart;
  await primary.crash();
  await sleep(KILL_TO_PROMOTE_S);
  await replica.promote();
  const promotedAt = Date.now() - loadStart;
  const promotedWall = new Date();
  if (direct) {
    const after = path.join(primary.root, 'after');
    mkdirSync(after);
    retired = replicas;
    replicas = await startReplicas(replica.url('dundie'), after, { apis: 2, dispatchers: 2, env });
    urls.splice(0, urls.length, ...replicas.urls);
    await retired.stop();
  } else {
    await pools!.retarget(target(replica.port));
    await listens!.retarget(target(replica.port));
  }
  await sleep(AFTER_PROMOTE_S);
  done = true;
  const answers = await load;

  const db = createDb(replica.url('dundie'), { timeoutSeconds: 30 });
  const drainDeadline = Date.now() + 90_000;
  for (;;) {
    const [row] = await db('outbox').whereIn('status', ['pending', 'sending']).count<{ n: string }[]>({ n: '*' });
    if (Number(row!.n) === 0 || Date.now() > drainDeadline) break;
    await sleep(0.5);
  }
  const rows = await db('outbox').select<{ email: string; status: string; processed_at: Date | null }[]>(
    db.raw("payload->>'email' AS email"),
    'status',
    'processed_at',
  );
  const [firstSent] = await db('outbox')
    .where('status', 'sent')
    .where('processed_at', '>', promotedWall)
    .min<{ at: Date | null }[]>({ at: 'processed_at' });
  await db.destroy();

  const ok = answers.filter((a) => a.status === 200);
  const onPrimary = new Set(rows.map((r) => r.email));
  const lost = ok.filter((a) => !onPrimary.has(a.email)).length;
  const failed = answers.filter((a) => a.status !== 200 && a.at >= killedAt - 1000);
  const count = (s: number) => answers.filter((a) => a.status === s).length;
  const firstOkAfter = ok.find((a) => a.at >= promotedAt);
  const lastFailure = failed.at(-1);
  const byStatus = Object.entries(
    rows.reduce<Record<string, number>>((acc, r) => ((acc[r.status] = (acc[r.status] ?? 0) + 1), acc), {}),
  )
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const sentBy = [...(retired?.sentBy() ?? []), ...replicas.sentBy()];
  const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
  const backAfter = firstOkAfter && firstOkAfter.at - promotedAt;
  const claimAfter = firstSent?.at ? firstSent.at.getTime() - promotedWall.getTime() : undefined;
  const alive = replicas.allAlive();

  say(`| what | figure |`);
  say(`|---|---|`);
  say(
    `| requests | ${answers.length}: ${count(200)} × 200, ${count(503)} × 503, ${count(500)} × 500, ${count(0)} unanswered in 10 s |`,
  );
  say(`| 200s with no row on the new primary | ${lost} |`);
  say(
    `| rows on the new primary | ${rows.length} (${byStatus}); ${rows.length - ok.length} more than 200s: answered 503 (or unanswered) but committed |`,
  );
  say(
    `| 503s | from ${seconds(failed[0] && failed[0].at - killedAt)} to ${seconds(lastFailure && lastFailure.at - killedAt)} after the kill (promotion at ${seconds(promotedAt - killedAt)}) |`,
  );
  say(`| first request answered 200 after the promotion | ${seconds(backAfter)} after it |`);
  say(`| last request not answered 200 | ${seconds(lastFailure && lastFailure.at - promotedAt)} after the promotion |`);
  say(`| dispatchers sending again | ${seconds(claimAfter)} after the promotion |`);
  say(
    `| e-mails | ${sentBy.flat().length} (${sentBy.map((s) => s.length).join(' + ')}), ${duplicates(sentBy)} addresses mailed twice |`,
  );
  say(`| processes restarted | ${direct ? 'all, by design' : alive ? 'none' : 'some exited'} |`);

  if (values.check) {
    const problems = [
      count(500) > 0 && `${count(500)} requests answered 500`,
      synchronous && lost > 0 && `${lost} acknowledged requests lost`,
      (backAfter === undefined || backAfter > RECOVERY_TARGET_S * 1000) &&
        `no 200 within ${RECOVERY_TARGET_S} s of the promotion`,
      lastFailure &&
        lastFailure.at - promotedAt > RECOVERY_TARGET_S * 1000 &&
        'requests still failing 10 s after the promotion',
      claimAfter === undefined && 'the dispatchers did not send after the promotion',
      !alive && 'a process exited',
    ].filter(Boolean);
    if (problems.length > 0) {
      for (const p of problems) console.error(`failover check: ${p}`);
      process.exitCode = 1;
    } else say('failover check: passed');
  }
} finally {
  await replicas?.stop();
  await pools?.stop();
  await listens?.stop();
  await replica.stop();
  await primary.stop();
  if (!process.exitCode) removeCluster(primary.root);
  else console.error(`logs kept in ${path.join(primary.root)}`);
}
