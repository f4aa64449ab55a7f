import test from 'ava';
import { createDb } from '../../src/db/database.ts';
import { migrateLatest, migrationConfig } from '../../src/db/migrations.ts';
import { donePartitions } from '../../src/outbox/partitions.ts';
import { createTestDatabase } from '../helpers/db.ts';

test('several processes migrating at once all succeed, one of them applying', async (t) => {
  const tdb = await createTestDatabase('migrate');
  t.teardown(() => tdb.drop());
  await tdb.db.migrate.rollback(undefined, true);
  const dbs = [createDb(tdb.url), createDb(tdb.url), createDb(tdb.url)];
  t.teardown(() => Promise.all(dbs.map((db) => db.destroy())));
  const applied = await Promise.all(dbs.map((db) => migrateLatest(db)));
  t.is(applied.filter((a) => a.length > 0).length, 1);
  t.true(await tdb.db.schema.hasTable('outbox'));
});

test('the outbox refuses a status outside its five', async (t) => {
  const tdb = await createTestDatabase('schema');
  t.teardown(() => tdb.drop());
  const error = await t.throwsAsync(tdb.db('outbox').insert({ kind: 'x', payload: {}, status: 'lost' }));
  // A finished row carries its time: without it, no day's partition would hold it.
  const untimed = await t.throwsAsync(tdb.db('outbox').insert({ kind: 'x', payload: {}, status: 'sent' }));
  t.regex(untimed.message, /outbox_done_processed_check/);
  // Found by the partitioning on status before the CHECK constraint sees it; the detail names the value.
  t.regex(error.message, /no partition of relation "outbox"|outbox_status_check/);
  t.regex(String((error as { detail?: string }).detail ?? error.message), /lost|outbox_status_check/);
});

test('the source tree and the compiled build agree on what is applied, old records included', async (t) => {
  const tdb = await createTestDatabase('migration_names');
  t.teardown(() => tdb.drop());
  const names = await tdb.db('knex_migrations').orderBy('id').pluck('name');
  t.true(names.length > 0 && names.every((n: string) => /^\d+_\w+$/.test(n)), names.join(', '));
  // As knex's file source recorded them, from `npm start` (.ts) or from dist/ (.js).
  await tdb
    .db('knex_migrations')
    .update({ name: tdb.db.raw("name || CASE WHEN id % 2 = 0 THEN '.ts' ELSE '.js' END") });
  t.deepEqual(await migrateLatest(tdb.db), []);
  t.deepEqual(await tdb.db('knex_migrations').orderBy('id').pluck('name'), names);
});

test('partitioning the outbox keeps every row: the live ones in outbox_live, the finished ones in the old table', async (t) => {
  const tdb = await createTestDatabase('partitioning');
  t.teardown(() => tdb.drop());
  await tdb.db.migrate.rollback(migrationConfig, true);
  const next = async () => ((await tdb.db.migrate.list(migrationConfig)) as [unknown[], string[]])[1][0];
  while (!(await next())?.startsWith('20261205000002_outbox_partitions')) await tdb.db.migrate.up(migrationConfig);
  const statuses = ['pending', 'sending', 'sent', 'skipped', 'dead'];
  await tdb.db.raw(
    `INSERT INTO outbox (kind, payload, status, processed_at)
     SELECT 'pwd_reset_email', jsonb_build_object('n', g), s,
            CASE WHEN s IN ('sent', 'skipped') THEN now() - g * interval '1 day' END
     FROM unnest(?::text[]) s, generate_series(1, 10) g`,
    [statuses],
  );
  // Rows no release writes, but SQL by hand can: finished with no time, or with a time to come.
  await tdb.db('outbox').insert([
    { kind: 'pwd_reset_email', payload: { n: 'none' }, status: 'sent' },
    {
      kind: 'pwd_reset_email',
      payload: { n: 'future' },
      status: 'sent',
      processed_at: tdb.db.raw("now() + interval '400 days'"),
    },
  ]);
  // Day bounds stay UTC midnights whatever the server's zone.
  await tdb.db.raw(`ALTER DATABASE ${new URL(tdb.url).pathname.slice(1)} SET timezone = 'America/New_York'`);
  const before = await tdb.db('outbox').orderBy('id').select('id', 'status', 'payload');

  await migrateLatest(tdb.db);
  t.deepEqual(await tdb.db('outbox').orderBy('id').select('id', 'status', 'payload'), before);
  const { rows } = await tdb.db.raw<{ rows: { part: string; n: number }[] }>(
    'SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM outbox GROUP BY 1 ORDER BY 1',
  );
  t.deepEqual(rows, [
    { part: 'outbox_done_legacy', n: 22 },
    { part: 'outbox_live', n: 30 },
  ]);
  const partitions = await donePartitions(tdb.db);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const legacy = partitions.find((p) => p.name === 'outbox_done_legacy');
  t.is(legacy?.from, null);
  t.is(legacy?.to?.toISOString(), `${tomorrow}T00:00:00.000Z`, 'the old rows up to tomorrow, no further');
  const days = partitions.filter((p) => /^outbox_done_\d{8}$/.test(p.name));
  t.is(days[0]?.name, `outbox_done_${tomorrow.replaceAll('-', '')}`);
  for (const day of days) {
    t.is(day.from!.toISOString().slice(10), 'T00:00:00.000Z');
    t.is(day.to!.getTime() - day.from!.getTime(), 86_400_000, `${day.name} is one UTC day`);
  }
  // New rows take the ids after the old ones, from the sequence the old table no longer owns.
  const [row] = await tdb.db('outbox').insert({ kind: 'pwd_reset_email', payload: {} }).returning('id');
  t.true(Number(row!.id) > Math.max(...before.map((r) => Number(r.id))));
});
