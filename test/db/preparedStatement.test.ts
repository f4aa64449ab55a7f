/**
 * The hot statements' path past knex: the same answers as knex's `raw` for `?` and `:name`
 * bindings, prepared under its name, on the transaction's connection when given one, errors that
 * keep their SQLSTATE and the server's message; what knex refuses (an undefined binding, a
 * finished transaction) refused too.
 */
import test from 'ava';
import process from 'node:process';
import { runPrepared } from '../../src/db/preparedStatement.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('prepared_statement');

test('positional bindings give what knex raw gives, arrays and nulls included', async (t) => {
  const sql = 'SELECT ?::int + 1 AS n, ?::text[] AS words, ?::text AS nothing';
  const bindings = [41, ['a', 'b'], null];
  const rows = await runPrepared<{ n: number; words: string[]; nothing: null }>(
    tdb.db,
    'test_positional',
    sql,
    bindings,
  );
  const { rows: viaKnex } = await tdb.db.raw(sql, bindings);
  t.deepEqual(rows, viaKnex);
  t.deepEqual(rows, [{ n: 42, words: ['a', 'b'], nothing: null }]);
});

test('named bindings go where their names are, a name used twice bound twice, whatever the key order', async (t) => {
  const sql = 'SELECT :a::int AS a, :b::text AS b, :a::int * 2 AS twice';
  const first = await runPrepared(tdb.db, 'test_named', sql, { a: 1, b: 'x' });
  const second = await runPrepared(tdb.db, 'test_named', sql, { b: 'y', a: 5 });
  t.deepEqual(first, [{ a: 1, b: 'x', twice: 2 }]);
  t.deepEqual(second, [{ a: 5, b: 'y', twice: 10 }]);
});

test('a statement is prepared under its name on the connection that ran it (behind a transaction pooler, not at all)', async (t) => {
  // test:pooler runs the suite through PgBouncer in transaction mode, where the names are dropped.
  const pooled = Boolean(process.env.DUNDIE_TEST_LISTEN_URL);
  const sql = 'SELECT ?::int AS n';
  await runPrepared(tdb.db, 'test_once', sql, [1]);
  await runPrepared(tdb.db, 'test_once', sql, [2]);
  // Run on one connection: what that session has prepared under the name.
  await tdb.db.transaction(async (trx) => {
    await runPrepared(trx, 'test_once', sql, [3]);
    const { rows } = await trx.raw(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'dundie_test_once'",
    );
    t.is(rows[0].n, pooled ? 0 : 1);
  });
});

test('on a transaction it runs on the transaction, and is undone with it', async (t) => {
  await tdb.db.raw('CREATE TABLE IF NOT EXISTS prepared_probe (n int)');
  await t.throwsAsync(
    tdb.db.transaction(async (trx) => {
      await runPrepared(trx, 'test_insert_probe', 'INSERT INTO prepared_probe (n) VALUES (?) RETURNING n', [7]);
      const { rows } = await trx.raw('SELECT count(*)::int AS n FROM prepared_probe');
      t.is(rows[0].n, 1);
      throw new Error('roll back');
    }),
    { message: 'roll back' },
  );
  const { rows } = await tdb.db.raw('SELECT count(*)::int AS n FROM prepared_probe');
  t.is(rows[0].n, 0);
});

test("a failed statement keeps its SQLSTATE and the server's message, without the statement in front", async (t) => {
  const err = await t.throwsAsync<Error & { code?: string }>(
    runPrepared(tdb.db, 'test_failing', 'SELECT ?::int AS n', ['someone@dm.com']),
  );
  t.is(err.code, '22P02');
  t.false(err.message.includes('SELECT'), err.message);
  // The pool still serves statements.
  t.deepEqual(await runPrepared(tdb.db, 'test_after_failure', 'SELECT 1 AS n', []), [{ n: 1 }]);
});

test('a second text under a name already used is refused', async (t) => {
  await runPrepared(tdb.db, 'test_taken', 'SELECT 1 AS n', []);
  await t.throwsAsync(runPrepared(tdb.db, 'test_taken', 'SELECT 2 AS n', []), { message: /another text/ });
});

test('an undefined binding is refused, as knex refuses it, not bound as NULL', async (t) => {
  // After a first call, whose text knex converts (and checks itself).
  await runPrepared(tdb.db, 'test_undefined', 'SELECT ?::text AS a, ?::text AS b', ['x', 'y']);
  await t.throwsAsync(runPrepared(tdb.db, 'test_undefined', 'SELECT ?::text AS a, ?::text AS b', ['x', undefined]), {
    message: /an undefined binding/,
  });
  await runPrepared(tdb.db, 'test_undefined_named', 'SELECT :a::text[] AS a', { a: ['x'] });
  await t.throwsAsync(runPrepared(tdb.db, 'test_undefined_named', 'SELECT :a::text[] AS a', { a: ['x', undefined] }), {
    message: /an undefined binding/,
  });
});

test('a transaction already committed is refused: its connection is back in the pool', async (t) => {
  let finished: Parameters<Parameters<typeof tdb.db.transaction>[0]>[0] | undefined;
  await tdb.db.transaction(async (trx) => {
    finished = trx;
  });
  await t.throwsAsync(runPrepared(finished!, 'test_late', 'SELECT 1 AS n', []), { message: /already complete/ });
});
