/**
 * A task's own write (`Alongside`) is made in the transaction that records its row's end: with
 * it, or not at all.
 */
import test from 'ava';
import { z } from 'zod';
import { createLogger } from '../../src/log.ts';
import { processRow, type DispatcherDeps } from '../../src/outbox/processRow.ts';
import { claimDue, enqueue } from '../../src/outbox/queries.ts';
import { alongside, defineTask, sent, skipped, type WriteMany } from '../../src/outbox/taskList.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('outbox_alongside', { clean: ['outbox', 'side_writes'] });
test.before(() => tdb.db.raw('CREATE TABLE side_writes (outbox_id bigint NOT NULL)'));

const noteAll: WriteMany<string> = async (trx, ids) => {
  await trx('side_writes').insert(ids.map((id) => ({ outbox_id: id })));
};
const failAll: WriteMany<string> = async (trx) => {
  await trx.raw('SELECT 1/0');
};
let write = noteAll;
const deps = (): DispatcherDeps => {
  const config = testConfig(tdb.url);
  const tasks = {
    note: defineTask({ 1: z.object({ skip: z.boolean() }) }, async ({ skip }, row) =>
      skip ? skipped('asked to', alongside(write, row.id)) : sent(alongside(write, row.id)),
    ),
  };
  return { db: tdb.db, tasks, settings: config.dispatcher, log: createLogger(config), workerId: 'w1' };
};
const sideWrites = async () => (await tdb.db('side_writes').orderBy('outbox_id')).map((r) => String(r.outbox_id));

test.serial('a sent or skipped row is recorded with its task’s write', async (t) => {
  write = noteAll;
  const ids = [
    await enqueue(tdb.db, { kind: 'note', payload: { skip: false }, maxAttempts: 3 }),
    await enqueue(tdb.db, { kind: 'note', payload: { skip: true }, maxAttempts: 3 }),
  ];
  const rows = await claimDue(tdb.db, 'w1', 10, 30);
  t.deepEqual(await Promise.all(rows.map((row) => processRow(deps(), row))), ['sent', 'skipped']);
  t.deepEqual(await sideWrites(), ids);
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
