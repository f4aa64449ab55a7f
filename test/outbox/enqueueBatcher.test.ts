import test from 'ava';
import { EnqueueBatcher } from '../../src/outbox/enqueueBatcher.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('enqueue_batcher', { clean: ['outbox'] });

const row = (email: string) => ({ kind: 'pwd_reset_email', payload: { email }, maxAttempts: 8 });

/** Counts the INSERTs into outbox that `db` sends while `work` runs. */
async function countInserts<T>(work: () => Promise<T>): Promise<{ result: T; inserts: number }> {
  let inserts = 0;
  const onQuery = (q: { sql: string }) => /insert into outbox/i.test(q.sql) && inserts++;
  tdb.db.on('query', onQuery);
  try {
    return { result: await work(), inserts };
  } finally {
    tdb.db.off('query', onQuery);
  }
}

test.serial('a burst shares INSERTs, and each caller gets the id of its own row', async (t) => {
  const batcher = new EnqueueBatcher(tdb.db, { maxBatch: 64, maxInFlight: 2 });
  const emails = Array.from({ length: 300 }, (_, i) => `burst-${i}@dm.com`);
  const { result: ids, inserts } = await countInserts(() => Promise.all(emails.map((e) => batcher.enqueue(row(e)))));
  t.true(inserts < 20, `${inserts} INSERTs for 300 rows`);
  t.is(new Set(ids).size, 300);
  const byId = new Map(
    (await tdb.db('outbox').select('id', 'payload', 'kind', 'max_attempts')).map((r) => [String(r.id), r]),
  );
  t.is(byId.size, 300);
  emails.forEach((email, i) => {
    t.like(byId.get(ids[i]!), { payload: { email }, kind: 'pwd_reset_email', max_attempts: 8 });
  });
});

test.serial('a lone row is written at once, by itself', async (t) => {
  const batcher = new EnqueueBatcher(tdb.db);
  const { result: id, inserts } = await countInserts(() => batcher.enqueue(row('alone@dm.com')));
  t.is(inserts, 1);
  t.like(await tdb.db('outbox').where({ id }).first(), { payload: { email: 'alone@dm.com' }, status: 'pending' });
});

test.serial('a row the database refuses fails alone; the rest of its batch is committed', async (t) => {
  const batcher = new EnqueueBatcher(tdb.db, { maxBatch: 64, maxInFlight: 1 });
  // jsonb refuses \u0000: the whole multi-row INSERT fails, then the rows go one by one.
  const outcomes = await Promise.allSettled(
    ['a@dm.com', 'bad\u0000@dm.com', 'b@dm.com', 'c@dm.com'].map((e) => batcher.enqueue(row(e))),
  );
  t.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const stored = await tdb.db('outbox').orderBy('id').pluck('payload');
  t.deepEqual(stored.map((p: { email: string }) => p.email).sort(), ['a@dm.com', 'b@dm.com', 'c@dm.com']);
});
