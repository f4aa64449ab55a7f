/**
 * A task's own write (`Alongside`) is made by the statement that records its row's end: with it,
 * or not at all.
 */
import test from 'ava';
import { z } from 'zod';
import { createLogger } from '../../src/log.ts';
import { processRow, rowWriters, type DispatcherDeps } from '../../src/outbox/processRow.ts';
import { claimDue, enqueue, finishMany } from '../../src/outbox/queries.ts';
import { alongside, defineTask, sent, skipped, type WriteMany } from '../../src/outbox/taskList.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('outbox_alongside', { clean: ['outbox', 'side_writes'] });
test.before(() =>
  tdb.db.raw('CREATE TABLE side_writes (outbox_id bigint NOT NULL, note text CHECK (char_length(note) <= 20))'),
);

const noteAll: WriteMany<string> = {
  sql: (items) => `INSERT INTO side_writes (outbox_id, note)
    SELECT e.outbox_id, e.note FROM json_to_recordset(${items}) AS e(outbox_id bigint, note text)`,
  item: (note) => ({ note }),
};
const failAll: WriteMany<string> = {
  sql: (items) => `INSERT INTO side_writes (outbox_id) SELECT 1 / 0 FROM json_to_recordset(${items}) AS e(note text)`,
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
/** `count` rows, one after the other: ids in the order the claim returns them. */
async function enqueueNotes(count: number) {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push(await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 }));
  return ids;
}
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
  await tdb.db('side_writes').delete();
  const ids = await enqueueNotes(3);
  await claimDue(tdb.db, 'w1', 10, 30);
  const statements: string[] = [];
  const onQuery = ({ sql }: { sql: string }) => statements.push(sql);
  tdb.db.on('query', onQuery);
  t.teardown(() => tdb.db.off('query', onQuery));
  const held = await finishMany(tdb.db, 'w1', [
    { id: ids[0]!, status: 'sent', reason: null, alongside: alongside(noteAll, 'first') },
    { id: ids[1]!, status: 'skipped', reason: 'plain', alongside: undefined },
    { id: ids[2]!, status: 'sent', reason: null, alongside: alongside(noteAll, 'third') },
  ]);
  t.deepEqual(held, [true, true, true]);
  t.is(statements.length, 1);
  t.deepEqual(await sideWrites(), [`${ids[0]}: first`, `${ids[2]}: third`]);
});

test.serial('in one statement, the write of a row whose lease was lost is dropped with its end', async (t) => {
  await tdb.db('side_writes').delete();
  const ids = await enqueueNotes(2);
  await claimDue(tdb.db, 'w1', 10, 30);
  await tdb.db('outbox').where({ id: ids[1] }).update({ locked_by: 'w2' });
  const held = await finishMany(
    tdb.db,
    'w1',
    ids.map((id) => ({ id, status: 'sent', reason: null, alongside: alongside(noteAll, `note ${id}`) })),
  );
  t.deepEqual(held, [true, false]);
  t.deepEqual(await sideWrites(), [`${ids[0]}: note ${ids[0]}`]);
  t.like(await tdb.db('outbox').where({ id: ids[1] }).first(), { status: 'sending', locked_by: 'w2' });
});

test.serial('a write the database refuses for one row fails that row alone; its batch-mates end', async (t) => {
  write = noteAll;
  await tdb.db('side_writes').delete();
  const ids = await enqueueNotes(4);
  const rows = await claimDue(tdb.db, 'w1', 10, 30);
  const tooLong = ids[2];
  const longNotes = { ...deps() };
  longNotes.tasks = {
    note: defineTask({ 1: z.object({ skip: z.boolean() }) }, async (_, row) =>
      sent(alongside(noteAll, row.id === tooLong ? 'a note far over twenty characters' : `n${row.id}`)),
    ),
  };
  const writers = rowWriters(longNotes);
  const outcomes = await Promise.all(rows.map((row) => processRow(longNotes, row, writers)));
  t.deepEqual(
    Object.fromEntries(rows.map((row, i) => [row.id, outcomes[i]])),
    Object.fromEntries(ids.map((id) => [id, id === tooLong ? 'failed' : 'sent'])),
  );
  t.deepEqual(
    await sideWrites(),
    ids.filter((id) => id !== tooLong).map((id) => `${id}: n${id}`),
  );
  t.like(await tdb.db('outbox').where({ id: tooLong }).first(), { status: 'pending' });
});
