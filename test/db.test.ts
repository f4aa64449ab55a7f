import test from 'ava';
import { createDb, migrateLatest } from '../src/db.ts';
import { createTestDatabase } from './helpers/db.ts';

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
  t.regex(error!.message, /outbox_status_check/);
});
