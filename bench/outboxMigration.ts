/**
 * `npx tsx bench/outboxMigration.ts [ROWS]`: how long the migration that partitions the outbox
 * (20261205000002) takes on a table already in service: ROWS finished rows (10 million by
 * default, `processed_at` over the past 30 days, as bench/outboxVolume.ts seeds them) and 100,000
 * live ones in the one-table layout, vacuumed and analyzed, then `migrateLatest`. On a PostgreSQL
 * server of its own (the machine's binaries, a temp dir, default settings), removed at the end.
 */
import process from 'node:process';
import pg from 'pg';
import { createDb } from '../src/db/database.ts';
import { migrateLatest, migrationConfig } from '../src/db/migrations.ts';
import { removeCluster, startPrimary } from '../test/helpers/postgresCluster.ts';
import { machineLine } from './support.ts';

const ROWS = Number(process.argv[2] ?? 10_000_000);
const LIVE = 100_000;

const cluster = await startPrimary();
try {
  const admin = new pg.Client({ connectionString: cluster.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE dundie_migration');
  const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
  await admin.end();
  const url = new URL(cluster.url());
  url.pathname = '/dundie_migration';
  const db = createDb(url.toString(), { timeoutSeconds: 3600, poolMax: 2 });
  try {
    await migrateLatest(db);
    // Back to the one-table layout, whatever came after the partitioning.
    const applied = async () =>
      ((await db.migrate.list(migrationConfig)) as [{ name: string }[], unknown[]])[0].map((m) => m.name);
    while ((await applied()).includes('20261205000002_outbox_partitions')) await db.migrate.down(migrationConfig);
    await db.raw(
      `INSERT INTO outbox (kind, payload, status, attempts, run_after, created_at, updated_at, processed_at)
       SELECT 'pwd_reset_email', jsonb_build_object('email', 'user' || i || '@dm.com'),
              CASE WHEN i % 20 = 0 THEN 'skipped' ELSE 'sent' END, 1, t, t, t, t
       FROM generate_series(1, ?::int) AS i,
            LATERAL (SELECT now() - interval '30 days' + (i::float8 / ?::int) * interval '30 days' - interval '1 s' AS t) AS at`,
      [ROWS, ROWS],
    );
    await db.raw(
      `INSERT INTO outbox (kind, payload)
       SELECT 'pwd_reset_email', jsonb_build_object('email', 'due' || i || '@dm.com') FROM generate_series(1, ?::int) AS i`,
      [LIVE],
    );
    await db.raw('VACUUM ANALYZE outbox');
    await db.raw('CHECKPOINT');
    const started = performance.now();
    await migrateLatest(db);
    const seconds = (performance.now() - started) / 1000;
    console.log(machineLine(rows[0]!.server_version));
    console.log(
      `Partitioning migration on ${ROWS.toLocaleString('en-US')} finished and ${LIVE.toLocaleString('en-US')} live rows: ${seconds.toFixed(1)} s (the table locked throughout).`,
    );
  } finally {
    await db.destroy();
  }
} finally {
  await cluster.stop();
  removeCluster(cluster.root);
}
