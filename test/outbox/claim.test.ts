/** What a claim hands the dispatcher: each row as the table holds it after the claim. */
import test from 'ava';
import { claimDue, enqueue } from '../../src/outbox/queries.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('claim', { clean: ['outbox'] });

test.serial("a claimed row's times are Dates, to the millisecond of the table's; its unset times null", async (t) => {
  const id = await enqueue(tdb.db, { kind: 'note', payload: { n: 1 }, maxAttempts: 3 });
  await tdb
    .db('outbox')
    .where({ id })
    .update({ retried_at: tdb.db.raw("now() - interval '1 hour 0.123456 second'") });
  const [claimed] = await claimDue(tdb.db, 'claimer', 10, 60, { ids: [id] });
  const stored = await tdb.db('outbox').where({ id }).first();
  for (const column of ['started_at', 'retried_at', 'run_after', 'locked_until', 'created_at', 'updated_at'] as const) {
    t.true(claimed![column] instanceof Date, column);
    t.is(claimed![column]!.getTime(), (stored[column] as Date).getTime(), column);
  }
  t.is(claimed!.processed_at, null);
  t.like(claimed, { id, kind: 'note', payload: { n: 1 }, status: 'sending', attempts: 1, locked_by: 'claimer' });
});
