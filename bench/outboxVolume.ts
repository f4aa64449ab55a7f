/**
 * `npx tsx bench/outboxVolume.ts [--quick] [--rows N] [--due N] [--url URL] [--no-autovacuum]`: the
 * outbox at volume (issue 20, item 5). On a PostgreSQL server of its own by default (the machine's
 * server binaries, a temp dir, a free port, default settings; removed at the end), or on a fresh
 * database of the server `--url` names (dropped at the end). The schema is the service's
 * (`migrateLatest`), every statement measured is the service's own (`src/outbox/queries.ts`), run
 * on pools made as the service makes them (`createDb`: 10 connections, 3 s statement timeout).
 *
 * The table: N finished rows (10 million; `sent`, one in twenty `skipped`, inserted oldest first
 * with `processed_at` spread over the past 30 days, so housekeeping's 7-day retention has 23/30 of
 * them to delete) and D due rows (100,000, pending, due over the past hour). Then rounds of
 *
 * - claims: `claimDue` of BATCH_SIZE (200) rows as the dispatcher calls it, timed, each batch then
 *   finished `sent` with `finishMany`, as the dispatcher does;
 * - enqueues: as many rows again through the API's `EnqueueBatcher` (`enqueueMany` in the batches
 *   the API sends, 32 callers at once like 32 concurrent reset requests), so D stays the same;
 *
 * before housekeeping, under that load for a few minutes with no housekeeping, while housekeeping
 * removes what is past retention (`housekeeping()` of src/commands/housekeeping.ts, default
 * settings, on a pool of its own beside the rounds: the outbox is partitioned, so it drops day
 * partitions; the table starts with one for each of the past 30 days, as a month in service leaves it), right after it, once autovacuum (default settings) has been through the
 * table, and after a manual VACUUM. Sizes and dead rows (pgstattuple when the server has it, else
 * pg_stat_user_tables), summed over the partitions, after each; autovacuum of `outbox_live` watched
 * every second; the plan of a claim (EXPLAIN (ANALYZE, BUFFERS), rolled back). `--no-autovacuum` turns autovacuum
 * off for the table, to see what the delete leaves when nothing vacuums after it.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import process from 'node:process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { housekeeping } from '../src/commands/housekeeping.ts';
import { loadConfig } from '../src/config.ts';
import { createDb, type Db } from '../src/db/database.ts';
import { migrateLatest } from '../src/db/migrations.ts';
import { EnqueueBatcher } from '../src/outbox/enqueueBatcher.ts';
import { DAYS_AHEAD, maintainPartitions } from '../src/outbox/partitions.ts';
import { claimDue, finishMany, type KnownKind } from '../src/outbox/queries.ts';
import { removeCluster, startPrimary } from '../test/helpers/postgresCluster.ts';
import { machineLine, quantile } from './support.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rows: { type: 'string' },
    due: { type: 'string' },
    url: { type: 'string' },
    'no-autovacuum': { type: 'boolean' },
  },
});
const quick = Boolean(values.quick);
const autovacuumOn = !values['no-autovacuum'];
const ROWS = Number(values.rows ?? (quick ? 200_000 : 10_000_000));
const DUE = Number(values.due ?? (quick ? 5_000 : 100_000));
/** Claims in a measured round (each followed by as many rows enqueued). */
const CLAIMS = quick ? 20 : 200;
/** Concurrent reset requests feeding the API's batcher. */
const CALLERS = 32;
/** How long the load runs with no housekeeping, to see whether autovacuum keeps up with the queue alone. */
const SUSTAIN_MS = (quick ? 10 : 180) * 1000;
/** Past this, housekeeping is cancelled and what it left is reported: the bench stops by itself. */
const DELETE_CAP_MS = (quick ? 60 : 10 * 60) * 1000;
/** How long to wait for autovacuum and autoanalyze to go through the table after the delete. */
const AUTOVACUUM_WAIT_MS = (quick ? 10 : 5 * 60) * 1000;
const HOUSEKEEPING_APP = 'dundie_bench_housekeeping';

// The service's own settings, defaults all: BATCH_SIZE, LEASE_SECONDS, RETENTION_DAYS, the pool.
const config = loadConfig({ NODE_ENV: 'development', DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64') });
const { BATCH_SIZE, LEASE_SECONDS, MAX_ATTEMPTS } = config.dispatcher;
const RETENTION = config.outbox.RETENTION_DAYS;
const KNOWN: KnownKind[] = [
  { kind: 'pwd_reset_email', payloadVersion: 1 },
  { kind: 'pwd_changed_email', payloadVersion: 1 },
];

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const mb = (bytes: number) => fmt(bytes / 2 ** 20);
const pct = (ms: readonly number[], q: number) =>
  quantile(
    [...ms].sort((a, b) => a - b),
    q,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const load = () =>
  os
    .loadavg()
    .map((l) => fmt(l, 1))
    .join(' / ');

/** A server and a database of the bench's own. */
async function ownDatabase() {
  const name = `dundie_volume_${randomBytes(4).toString('hex')}`;
  const cluster = values.url ? undefined : await startPrimary();
  const adminUrl = values.url ?? cluster!.url();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    version: rows[0]!.server_version,
    own: Boolean(cluster),
    async close() {
      if (cluster) {
        await cluster.stop();
        removeCluster(cluster.root);
        return;
      }
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** What a stretch of rounds measured. */
interface Round {
  claimMs: number[];
  claimed: number;
  claimErrors: number;
  enqueued: number;
  enqueueSeconds: number;
  /** What each row's caller waited for its commit. */
  waitMs: number[];
  inserts: number;
}

const emptyRound = (): Round => ({
  claimMs: [],
  claimed: 0,
  claimErrors: 0,
  enqueued: 0,
  enqueueSeconds: 0,
  waitMs: [],
  inserts: 0,
});

function addTo(sum: Round, r: Round): Round {
  sum.claimMs.push(...r.claimMs);
  sum.waitMs.push(...r.waitMs);
  sum.claimed += r.claimed;
  sum.claimErrors += r.claimErrors;
  sum.enqueued += r.enqueued;
  sum.enqueueSeconds += r.enqueueSeconds;
  sum.inserts += r.inserts;
  return sum;
}

interface Rig {
  db: Db;
  batcher: EnqueueBatcher;
  inserts: { count: number };
  /** Every claim: seconds since the first one, and its milliseconds. */
  timeline: { at: number; ms: number }[];
  t0: number;
}

let enqueueSeq = 0;

/** `claims` claims of BATCH_SIZE, each batch finished `sent`; then as many rows enqueued as were claimed. */
async function round(rig: Rig, claims: number): Promise<Round> {
  const r = emptyRound();
  for (let i = 0; i < claims; i++) {
    const start = performance.now();
    try {
      const rows = await claimDue(rig.db, 'bench', BATCH_SIZE, LEASE_SECONDS, { known: KNOWN });
      const ms = performance.now() - start;
      r.claimMs.push(ms);
      rig.timeline.push({ at: (start - rig.t0) / 1000, ms });
      r.claimed += rows.length;
      const finishes = rows.map((row) => ({ id: row.id, status: 'sent' as const, reason: null }));
      await finishMany(rig.db, 'bench', finishes);
    } catch {
      r.claimErrors++;
    }
  }
  const insertsBefore = rig.inserts.count;
  const start = performance.now();
  let left = r.claimed;
  const caller = async () => {
    while (left > 0) {
      left--;
      const queued = performance.now();
      try {
        await rig.batcher.enqueue({
          kind: 'pwd_reset_email',
          payload: { email: `new${enqueueSeq++}@dm.com` },
          maxAttempts: MAX_ATTEMPTS,
          deadline: new Date(Date.now() + 30_000),
        });
        r.waitMs.push(performance.now() - queued);
        r.enqueued++;
      } catch {
        // Shows as enqueued < claimed.
      }
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  r.enqueueSeconds = (performance.now() - start) / 1000;
  r.inserts = rig.inserts.count - insertsBefore;
  return r;
}

interface Stats {
  heap: number;
  indexes: number;
  dueIdx: number;
  /** outbox_live's heap: the hot partition the claim and the enqueues work on. */
  liveHeap: number;
  partitions: number;
  live: number;
  dead: number;
  freePercent: number | undefined;
}

async function stats(admin: Db, pgstattuple: boolean): Promise<Stats> {
  const {
    rows: [s],
  } = await admin.raw(`
    SELECT sum(pg_relation_size(l.relid)) AS heap, sum(pg_indexes_size(l.relid)) AS indexes,
           pg_relation_size('outbox_due_idx') AS due_idx, pg_relation_size('outbox_live') AS live_heap,
           count(*) AS partitions, sum(s.n_live_tup) AS n_live_tup, sum(s.n_dead_tup) AS n_dead_tup
    FROM pg_partition_tree('outbox') l JOIN pg_stat_user_tables s USING (relid)
    WHERE l.isleaf`);
  const out: Stats = {
    heap: Number(s.heap),
    indexes: Number(s.indexes),
    dueIdx: Number(s.due_idx),
    liveHeap: Number(s.live_heap),
    partitions: Number(s.partitions),
    live: Number(s.n_live_tup),
    dead: Number(s.n_dead_tup),
    freePercent: undefined,
  };
  if (pgstattuple) {
    const {
      rows: [t],
    } = await admin.raw(`
      SELECT sum(t.tuple_count) AS tuple_count, sum(t.dead_tuple_count) AS dead_tuple_count,
             100 * sum(t.free_space) / nullif(sum(t.table_len), 0) AS free_percent
      FROM pg_partition_tree('outbox') l, LATERAL pgstattuple(l.relid) t WHERE l.isleaf`);
    Object.assign(out, {
      live: Number(t.tuple_count),
      dead: Number(t.dead_tuple_count),
      freePercent: Number(t.free_percent),
    });
  }
  return out;
}

/**
 * Autovacuum and autoanalyze of `outbox_live` (the partition the queue churns), looked at every second: when each autovacuum ran,
 * with how many dead rows counted when it began, and when each autoanalyze finished.
 */
function watchAutovacuum(admin: Db, t0: number) {
  const since = () => (performance.now() - t0) / 1000;
  const vacuums: { from: number; to?: number; dead: number }[] = [];
  const analyzes: number[] = [];
  let maxDead = 0;
  let analyzed: number | undefined;
  let running = true;
  const done = (async () => {
    while (running) {
      const {
        rows: [w],
      } = await admin.raw(`
        SELECT n_dead_tup, autoanalyze_count,
               EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v JOIN pg_stat_activity a USING (pid)
                       WHERE v.relid = 'outbox_live'::regclass AND a.backend_type = 'autovacuum worker') AS vacuuming
        FROM pg_stat_user_tables WHERE relname = 'outbox_live'`);
      const dead = Number(w.n_dead_tup);
      maxDead = Math.max(maxDead, dead);
      const last = vacuums.at(-1);
      if (w.vacuuming && (!last || last.to !== undefined)) vacuums.push({ from: since(), dead });
      if (!w.vacuuming && last && last.to === undefined) last.to = since();
      if (analyzed !== undefined && Number(w.autoanalyze_count) > analyzed) analyzes.push(since());
      analyzed = Number(w.autoanalyze_count);
      await sleep(1000);
    }
  })();
  return {
    vacuums,
    analyzes,
    maxDead: () => maxDead,
    /** Whether an autovacuum and an autoanalyze have finished since `from` (seconds since t0). */
    settledSince: (from: number) =>
      vacuums.some((v) => v.to !== undefined && v.to >= from) && analyzes.some((a) => a >= from),
    vacuumingAt: (at: number) => vacuums.some((v) => v.from <= at && (v.to === undefined || at < v.to)),
    since,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** The SQL text and bindings of the first statement `run` sends, in a transaction rolled back. */
async function captureSql(db: Db, run: (trx: Db) => Promise<unknown>) {
  let captured: { sql: string; bindings: unknown[] } | undefined;
  await db
    .transaction(async (trx) => {
      trx.on('query', (q: { sql: string; bindings: unknown[] }) => (captured ??= q));
      await run(trx);
      throw new Error('rolled back');
    })
    .catch(() => {});
  return captured!;
}

/** EXPLAIN (ANALYZE, BUFFERS) of `sql`, run for real in a transaction rolled back; or the plan alone. */
async function explain(url: string, sql: string, bindings: unknown[], analyze = true): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const options = analyze ? '(ANALYZE, BUFFERS)' : '';
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${options} ${sql}`, bindings);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
}

const runStarted = performance.now();
const loadAtStart = load();
const database = await ownDatabase();
const { url } = database;
try {
  const admin = createDb(url, { timeoutSeconds: 3600, poolMax: 3 });
  await migrateLatest(admin);
  // A deployment a month old: a partition for each of the past 30 days, made as housekeeping makes them.
  for (let back = 31; back > -DAYS_AHEAD; back -= DAYS_AHEAD + 1)
    await maintainPartitions(admin, { retentionDays: 36_500, at: new Date(Date.now() - back * 86_400_000) });
  const leaves = async (): Promise<string[]> =>
    (await admin.raw(`SELECT relid::text AS name FROM pg_partition_tree('outbox') WHERE isleaf`)).rows.map(
      (r: { name: string }) => r.name,
    );
  const pgstattuple = await admin
    .raw('CREATE EXTENSION IF NOT EXISTS pgstattuple')
    .then(() => true)
    .catch(() => false);

  // The finished rows, oldest first as the service writes them; then the due ones.
  log(`seeding ${fmt(ROWS)} finished rows and ${fmt(DUE)} due rows`);
  let started = performance.now();
  await admin.raw(
    `INSERT INTO outbox (kind, payload, status, attempts, run_after, last_error, created_at, updated_at, processed_at)
     SELECT 'pwd_reset_email', jsonb_build_object('email', 'user' || i || '@dm.com'),
            CASE WHEN i % 20 = 0 THEN 'skipped' ELSE 'sent' END, 1, t + interval '30 s',
            CASE WHEN i % 20 = 0 THEN 'no user with this email' END, t, t + interval '40 ms', t + interval '40 ms'
     FROM generate_series(1, ?::int) AS i,
          LATERAL (SELECT now() - interval '30 days' + (i::float8 / ?::int) * interval '30 days' - interval '1 s' AS t) AS at`,
    [ROWS, ROWS],
  );
  await admin.raw(
    `INSERT INTO outbox (kind, payload, run_after, created_at, updated_at)
     SELECT 'pwd_reset_email', jsonb_build_object('email', 'due' || i || '@dm.com'), t, t, t
     FROM generate_series(1, ?::int) AS i,
          LATERAL (SELECT now() - interval '1 hour' + (i::float8 / ?::int) * interval '59 min' AS t) AS at`,
    [DUE, DUE],
  );
  // A table that has been in service has been vacuumed and analyzed.
  await admin.raw('VACUUM ANALYZE outbox');
  await admin.raw('CHECKPOINT');
  const seedSeconds = (performance.now() - started) / 1000;
  const expiredSql = `SELECT count(*)::int AS n FROM outbox
    WHERE status IN ('sent', 'skipped') AND processed_at < now() - make_interval(days => ?)`;
  const expired: number = (await admin.raw(expiredSql, [RETENTION])).rows[0].n;
  log(`seeded in ${fmt(seedSeconds)} s; ${fmt(expired)} rows past retention`);
  if (!autovacuumOn)
    for (const leaf of await leaves()) await admin.raw('ALTER TABLE ?? SET (autovacuum_enabled = off)', [leaf]);

  // The statements as the service sends them, for EXPLAIN.
  const claimSql = await captureSql(admin, (trx) =>
    claimDue(trx, 'explain', BATCH_SIZE, LEASE_SECONDS, { known: KNOWN }),
  );
  const explainClaim = () => explain(url, claimSql.sql, claimSql.bindings);
  const plans: Record<string, string> = { claimBefore: await explainClaim() };

  // Pools as the service makes them; housekeeping on one of its own, so that it can be told apart.
  const poolOptions = { poolMax: config.database.POOL_MAX, timeoutSeconds: config.database.TIMEOUT_SECONDS };
  const db = createDb(url, poolOptions);
  const inserts = { count: 0 };
  db.on('query', (q: { sql: string }) => void (q.sql.includes('INSERT INTO outbox') && inserts.count++));
  const rig: Rig = { db, batcher: new EnqueueBatcher(db), inserts, timeline: [], t0: performance.now() };
  const hkUrl = new URL(url);
  hkUrl.searchParams.set('application_name', HOUSEKEEPING_APP);
  const hk = createDb(hkUrl.toString(), poolOptions);
  const deletes: { at: number; ms: number; rows: number }[] = [];
  const deleteStarts = new Map<string, number>();
  hk.on('query', (q: { sql: string; __knexQueryUid: string }) => {
    if (/DELETE FROM outbox|DROP TABLE/.test(q.sql)) deleteStarts.set(q.__knexQueryUid, performance.now());
  });
  const deleteEnded = (res: { rowCount?: number } | undefined, q: { __knexQueryUid: string }) => {
    const at = deleteStarts.get(q.__knexQueryUid);
    if (at === undefined) return;
    deleteStarts.delete(q.__knexQueryUid);
    deletes.push({ at: (at - rig.t0) / 1000, ms: performance.now() - at, rows: res?.rowCount ?? 0 });
  };
  hk.on('query-response', deleteEnded);
  hk.on('query-error', (_err: unknown, q: { __knexQueryUid: string }) => deleteEnded(undefined, q));
  /** One housekeeping run with the service's settings: its seconds and the outbox rows it deleted. */
  const housekeepingRun = async () => {
    const start = performance.now();
    const { outboxRows } = await housekeeping(hk, config);
    return { seconds: (performance.now() - start) / 1000, rows: outboxRows };
  };

  const watcher = watchAutovacuum(admin, rig.t0);
  const phases: { what: string; round: Round; stats: Stats; from: number; to: number }[] = [];
  const phase = async (what: string, run: () => Promise<Round>) => {
    log(what);
    const from = watcher.since();
    const r = await run();
    phases.push({ what, round: r, stats: await stats(admin, pgstattuple), from, to: watcher.since() });
  };

  await phase('before housekeeping', () => round(rig, CLAIMS));
  await phase(`under load for ${SUSTAIN_MS / 1000} s, no housekeeping`, async () => {
    const sum = emptyRound();
    const end = performance.now() + SUSTAIN_MS;
    while (performance.now() < end) addTo(sum, await round(rig, Math.min(CLAIMS, 50)));
    return sum;
  });

  // Housekeeping beside rounds of claims and enqueues; a run that fails is run again at once
  // (the service would wait for its next minute), until the cap.
  let housekeepingRuns = 0;
  const failures: string[] = [];
  let cancelled = false;
  let deleteSeconds = NaN;
  const deleteFrom = watcher.since();
  await phase('while housekeeping deletes', async () => {
    let done = false;
    const deleting = (async () => {
      for (;;) {
        housekeepingRuns++;
        try {
          await housekeeping(hk, config);
          return;
        } catch (err) {
          if (cancelled) return;
          failures.push((err as Error).message);
        }
      }
    })().finally(() => {
      deleteSeconds = watcher.since() - deleteFrom;
      done = true;
    });
    // Cancelled statement by statement: one cancel may land between two of its DELETEs.
    const cap = setTimeout(() => {
      cancelled = true;
      void (async () => {
        while (!done) {
          await admin.raw('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = ?', [
            HOUSEKEEPING_APP,
          ]);
          await sleep(100);
        }
      })();
    }, DELETE_CAP_MS);
    const sum = emptyRound();
    while (!done) addTo(sum, await round(rig, Math.min(CLAIMS, 50)));
    await deleting;
    clearTimeout(cap);
    return sum;
  });
  const deleteTo = deleteFrom + deleteSeconds;
  const bigDelete = deletes.filter((d) => d.at >= deleteFrom);
  const left: number = (await admin.raw(expiredSql, [RETENTION])).rows[0].n;
  const deleted = expired - left;
  log(`housekeeping: ${fmt(deleted)} rows deleted in ${fmt(deleteSeconds, 1)} s, ${fmt(left)} left`);

  plans.claimAfter = await explainClaim();
  // After a cancelled delete the next run would be the rest of it.
  const nextRuns = cancelled ? [] : [{ when: 'right after it', ...(await housekeepingRun()) }];
  await phase('right after it', () => round(rig, CLAIMS));

  let settledAfter = NaN;
  if (autovacuumOn) {
    log('waiting for autovacuum and autoanalyze');
    const waitFrom = watcher.since();
    while (watcher.since() - waitFrom < AUTOVACUUM_WAIT_MS / 1000 && !watcher.settledSince(deleteTo)) await sleep(1000);
    if (watcher.settledSince(deleteTo)) settledAfter = watcher.since() - deleteTo;
    if (!cancelled) nextRuns.push({ when: 'after autovacuum and autoanalyze', ...(await housekeepingRun()) });
    await phase(
      Number.isNaN(settledAfter) ? `${AUTOVACUUM_WAIT_MS / 1000} s later, not yet autovacuumed` : 'after autovacuum',
      () => round(rig, CLAIMS),
    );
  }

  log('VACUUM');
  started = performance.now();
  await admin.raw('VACUUM outbox');
  const vacuumSeconds = (performance.now() - started) / 1000;
  if (!autovacuumOn)
    for (const leaf of await leaves()) await admin.raw('ALTER TABLE ?? RESET (autovacuum_enabled)', [leaf]);
  if (!cancelled) nextRuns.push({ when: 'after the manual VACUUM', ...(await housekeepingRun()) });
  await phase('after a manual VACUUM', () => round(rig, CLAIMS));
  await watcher.stop();
  await db.destroy();
  await hk.destroy();
  await admin.destroy();

  // What it found.
  const out = (line = '') => console.log(line);
  const tenth = Math.max(1, Math.floor(bigDelete.length / 10));
  const deleteMs = bigDelete.map((d) => d.ms);
  const slowest = [...bigDelete].sort((a, b) => b.ms - a.ms).slice(0, 3);
  const during = (at: number) => (at >= deleteFrom && at < deleteTo ? 'H' : '') + (watcher.vacuumingAt(at) ? 'A' : '');
  const buckets = new Map<number, number[]>();
  for (const c of rig.timeline) {
    const b = Math.floor(c.at / 10) * 10;
    buckets.set(b, [...(buckets.get(b) ?? []), c.ms]);
  }

  out(`## The outbox at volume: ${fmt(ROWS)} finished rows, ${fmt(DUE)} due`);
  out();
  out(
    `${machineLine(database.version)}; ${database.own ? 'a server of its own, default settings' : 'the server at --url'}` +
      `${autovacuumOn ? '' : ', autovacuum off for the table until the manual VACUUM'}. Other work shares the two cores: ` +
      `load average ${loadAtStart} at the start, ${load()} at the end. Seeding took ${fmt(seedSeconds)} s, the whole run ` +
      `${fmt((performance.now() - runStarted) / 60_000, 1)} min.`,
  );
  out();
  out(
    '| when | seconds | claims | claim p50 / p99 ms | enqueue rows/s (rows per INSERT) | enqueue wait p50 / p99 ms | partitions | heap MB (outbox_live) | indexes MB (due) | live rows | dead rows | free space |',
  );
  out('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { what, round: r, stats: s, from, to } of phases) {
    out(
      `| ${what} | ${fmt(from)}–${fmt(to)} | ${fmt(r.claimMs.length)}${r.claimErrors ? ` (${r.claimErrors} failed)` : ''} ` +
        `| ${fmt(pct(r.claimMs, 0.5), 1)} / ${fmt(pct(r.claimMs, 0.99), 1)} ` +
        `| ${fmt(r.enqueued / r.enqueueSeconds)} (${fmt(r.enqueued / r.inserts)}) ` +
        `| ${fmt(pct(r.waitMs, 0.5), 1)} / ${fmt(pct(r.waitMs, 0.99), 1)} ` +
        `| ${fmt(s.partitions)} | ${mb(s.heap)} (${mb(s.liveHeap)}) | ${mb(s.indexes)} (${mb(s.dueIdx)}) | ${fmt(s.live)} | ${fmt(s.dead)} ` +
        `| ${s.freePercent === undefined ? '–' : `${fmt(s.freePercent)} %`} |`,
    );
  }
  out();
  out('- seconds: since the first claim; claims: how many were timed in that stretch.');
  out(
    `- claim: the \`claimDue\` statement for ${BATCH_SIZE} rows (the dispatcher's BATCH_SIZE and kinds), each batch then finished \`sent\`.`,
  );
  out(
    `- enqueue: rows committed per second through the API's \`EnqueueBatcher\` with ${CALLERS} callers at once, ` +
      "as many rows as were claimed; the INSERTs' average size; what each caller waited for its row's commit.",
  );
  out(
    `- sizes: heap and all indexes on disk, summed over every partition; live and dead rows, free space: ${pgstattuple ? 'pgstattuple (exact)' : 'pg_stat_user_tables (estimates)'}.`,
  );
  out();
  out(
    `Housekeeping (\`housekeeping()\`, RETENTION_DAYS ${RETENTION}: day partitions dropped whole, the default partition's rows ` +
      `deleted in batches of 500; statement_timeout ${config.database.TIMEOUT_SECONDS} s as in the service): ${fmt(deleted)} of ${fmt(expired)} rows removed in ` +
      `${fmt(deleteSeconds, 1)} s (${fmt(deleted / deleteSeconds)} rows/s) in ${housekeepingRuns} run${housekeepingRuns > 1 ? 's' : ''}` +
      `${cancelled ? `, cancelled at the cap of ${fmt(DELETE_CAP_MS / 1000)} s` : ''}. ${fmt(bigDelete.length)} DROP TABLE and DELETE ` +
      `statements: p50 ${fmt(pct(deleteMs, 0.5), 1)} ms, p99 ${fmt(pct(deleteMs, 0.99), 1)} ms; the first tenth's median ` +
      `${fmt(pct(deleteMs.slice(0, tenth), 0.5), 1)} ms, the last tenth's ${fmt(pct(deleteMs.slice(-tenth), 0.5), 1)} ms; ` +
      `the slowest ${slowest.map((d) => `${fmt(d.ms)} ms (at ${fmt(d.at)} s${during(d.at).includes('A') ? ', autovacuum running' : ''})`).join(', ')}.`,
  );
  if (failures.length) out(`Runs that failed: ${failures.length} (${[...new Set(failures)].join('; ')}).`);
  if (nextRuns.length)
    out(
      `The next housekeeping runs, with nothing much left to delete: ${nextRuns
        .map((n) => `${n.when} ${fmt(n.seconds * 1000)} ms (${fmt(n.rows)} rows)`)
        .join('; ')}.`,
    );
  out(
    `Autovacuum of outbox_live (default settings${autovacuumOn ? '' : '; off here'}), seconds since the first claim: ${
      watcher.vacuums.length
        ? watcher.vacuums
            .map(
              (v) =>
                `${fmt(v.from)}–${v.to === undefined ? '…' : fmt(v.to)} (${fmt(v.dead)} dead rows counted as it began)`,
            )
            .join(', ')
        : 'none'
    }; autoanalyze done at ${watcher.analyzes.map((a) => fmt(a)).join(', ') || 'none'}. Most dead rows counted at once: ` +
      `${fmt(watcher.maxDead())}. ${autovacuumOn ? (Number.isNaN(settledAfter) ? `No autovacuum and autoanalyze within ${AUTOVACUUM_WAIT_MS / 1000} s of the delete's end. ` : `Both done ${fmt(settledAfter)} s after the delete ended. `) : ''}` +
      `The manual VACUUM took ${fmt(vacuumSeconds, 1)} s.`,
  );
  out();
  out('Claim p50 ms per 10 s (H: housekeeping deleting, A: an autovacuum of the table running):');
  out();
  out([...buckets].map(([at, ms]) => `${at}${during(at + 5)} ${fmt(pct(ms, 0.5), 1)}`).join(', '));
  const block = (title: string, plan: string | undefined) => {
    if (plan === undefined) return;
    out();
    out(title);
    out();
    out('```');
    out(plan);
    out('```');
  };
  block('The claim (`claimDue`), EXPLAIN (ANALYZE, BUFFERS), before housekeeping:', plans.claimBefore);
  block('The claim right after housekeeping:', plans.claimAfter);
} finally {
  await database.close();
}
