/**
 * A task's own write (`Alongside`) is made by the statement that records its row's end: with it,
 * or not at all.
 */
import test from 'ava';
import { z } from 'zod';
import { createLogger } from '../../src/log.ts';
import { processRow, rowWriters, type DispatcherDeps } from '../../src/outbox/processRow.ts';
import { claimDue, enqueue } from '../../src/outbox/queries.ts';
import { alongside, defineTask, sent, skipped, type WriteMany } from '../../src/outbox/taskList.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('outbox_alongside', { clean: ['outbox', 'side_writes'] });
test.before(() => tdb.db.raw('CREATE TABLE side_writes (outbox_id bigint NOT NULL, note text)'));

const noteAll: WriteMany<string> = {
  name: 'test_side_writes',
  sql: `INSERT INTO side_writes (outbox_id, note)
        SELECT e.outbox_id, e.note FROM json_to_recordset(?::json) AS e(outbox_id bigint, note text)
        JOIN finished ON finished.id = e.outbox_id`,
  item: (note) => ({ note }),
};
const failAll: WriteMany<string> = {
  name: 'test_side_writes_failing',
  sql: `INSERT INTO side_writes (outbox_id) SELECT 1 / 0 FROM json_to_recordset(?::json) AS e(outbox_id bigint)`,
  item: (note) => ({ note }),
};
let write = noteAll;
const deps = (): DispatcherDeps => {
  const config = testConfig(tdb.url);
  const tasks = {
    note: defineTask({ 1: z.object({ skip: z.boolean() }) }, async ({ skip }, row) =>
      skip ? skipped('asked to', alongside(write, `note ${row.id}`)) : sent(alongside(write, `note ${row.id}`)),
    ),
  };
  return { db: tdb.db, tasks, settings: config.dispatcher, log: createLogger(config), workerId: 'w1' };
};
const sideWrites = async () =>
  (await tdb.db('side_writes').orderBy('outbox_id')).map((r) => `${r.outbox_id}: ${r.note}`);

test.serial('a sent or skipped row is recorded with its task’s write', async (t) => {
  write = noteAll;
  const ids = [
    await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 }),
    await enqueue(tdb.db, { kind: 'note', payload: { skip: true }, maxAttempts: 3 }),
  ];
  const rows = await claimDue(tdb.db, 'w1', 10, 30);
  t.deepEqual(await Promise.all(rows.map((row) => processRow(deps(), row))), ['sent', 'skipped']);
  t.deepEqual(
    await sideWrites(),
    ids.map((id) => `${id}: note ${id}`),
  );
});

test.serial('a row whose lease another worker took is not finished, and its task’s write is not made', async (t) => {
  write = noteAll;
  const id = await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 });
  const [row] = await claimDue(tdb.db, 'w1', 10, 30);
  await tdb.db('outbox').where({ id }).update({ locked_by: 'w2' });
  await processRow(deps(), row!);
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'sending', locked_by: 'w2' });
  t.deepEqual(await sideWrites(), []);
});

test.serial('a task’s write that fails takes the row’s end with it: the row is tried again', async (t) => {
  write = failAll;
  const id = await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 });
  const [row] = await claimDue(tdb.db, 'w1', 10, 30);
  t.is(await processRow(deps(), row!), 'failed');
  const after = await tdb.db('outbox').where({ id }).first();
  t.is(after.status, 'pending');
  t.regex(after.last_error, /division by zero/);
});

test.serial('rows finished together share one statement, each with its own write or none', async (t) => {
  write = noteAll;
  await tdb.db('side_writes').delete();
  const plain = defineTask({ 1: z.object({}) }, async () => sent());
  const statements: string[] = [];
  const onQuery = ({ sql }: { sql: string }) => statements.push(sql);
  tdb.db.on('query', onQuery);
  t.teardown(() => tdb.db.off('query', onQuery));
  const ids = [
    await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 }),
    await enqueue(tdb.db, { kind: 'plain', payload: {}, maxAttempts: 3 }),
    await enqueue(tdb.db, { kind: 'note', payload: { skip: true }, maxAttempts: 3 }),
  ];
  const rows = await claimDue(tdb.db, 'w1', 10, 30);
  const withPlain = { ...deps(), tasks: { ...deps().tasks, plain } };
  const writers = rowWriters(withPlain);
  statements.length = 0;
  const outcomes = await Promise.all(rows.map((row) => processRow(withPlain, row, writers)));
  t.deepEqual(outcomes, ['sent', 'sent', 'skipped']);
  t.deepEqual(
    await sideWrites(),
    [ids[0], ids[2]].map((id) => `${id}: note ${id}`),
  );
  const finishes = statements.filter((sql) => /UPDATE outbox o\s+SET status = f.status/.test(sql));
  t.true(finishes.length >= 1 && finishes.length <= 2, `finished in ${finishes.length} statements`);
  t.false(
    statements.some((sql) => /^(BEGIN|COMMIT)/i.test(sql.trim())),
    'no transaction of several statements',
  );
});
