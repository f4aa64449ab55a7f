import test from 'ava';
import { createDb } from '../../src/db/database.ts';
import { migrateLatest } from '../../src/db/migrations.ts';
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
  t.regex(error.message, /outbox_status_check/);
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
