import test from 'ava';
import pg from 'pg';
import { donePartitions, maintainPartitions, DAYS_AHEAD } from '../../src/outbox/partitions.ts';
import { claimDue, enqueue, finishMany, renewLeases, retry } from '../../src/outbox/queries.ts';
import { useTestDatabase } from '../helpers/db.ts';

const tdb = useTestDatabase('outbox_partitions', { clean: ['outbox'] });

const DAY_MS = 86_400_000;
const days = (n: number) => new Date(Date.now() + n * DAY_MS);
const ymd = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '');

async function partitionOf(id: string): Promise<string> {
  const { rows } = await tdb.db.raw<{ rows: { part: string }[] }>(
    'SELECT tableoid::regclass::text AS part FROM outbox WHERE id = ?',
    [id],
  );
  return rows[0]!.part;
}

async function sent(email: string): Promise<string> {
  const id = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email }, maxAttempts: 3 });
  await claimDue(tdb.db, 'w1', 10, 60, { ids: [id] });
  await finishMany(tdb.db, 'w1', [{ id, status: 'sent', reason: null }]);
  return id;
}

test.serial('a new row is live, a finished one moves to its day, and a retried one comes back', async (t) => {
  const id = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email: 'a@dm.com' }, maxAttempts: 3 });
  t.is(await partitionOf(id), 'outbox_live');
  await claimDue(tdb.db, 'w1', 10, 60, { ids: [id] });
  t.deepEqual(await finishMany(tdb.db, 'w1', [{ id, status: 'skipped', reason: 'no user with this email' }]), [true]);
  const { processed_at } = await tdb.db('outbox').where({ id }).first();
  t.is(await partitionOf(id), `outbox_done_${ymd(processed_at)}`);
  t.is(await retry(tdb.db, { id }), 1);
  t.is(await partitionOf(id), 'outbox_live');
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'pending', processed_at: null });
});

test.serial('the migration leaves today and the next days made', async (t) => {
  const names = (await donePartitions(tdb.db)).map((p) => p.name);
  for (let i = 0; i <= DAYS_AHEAD - 1; i++) t.true(names.includes(`outbox_done_${ymd(days(i))}`), names.join(', '));
  t.true(names.includes('outbox_done_default'));
});

test.serial(
  'housekeeping makes the days ahead and drops a day past retention whole, live rows untouched',
  async (t) => {
    const finished = await sent('a@dm.com');
    const waiting = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email: 'b@dm.com' }, maxAttempts: 3 });
    const today = await partitionOf(finished);

    const soon = await maintainPartitions(tdb.db, { retentionDays: 7, at: days(2) });
    t.deepEqual(soon.dropped, []);
    t.true(soon.made.includes(`outbox_done_${ymd(days(2 + DAYS_AHEAD))}`), soon.made.join(', '));

    const later = await maintainPartitions(tdb.db, { retentionDays: 7, at: days(9) });
    t.true(later.dropped.includes(today), later.dropped.join(', '));
    t.deepEqual(later.deferred, []);
    t.is(await tdb.db('outbox').where({ id: finished }).first(), undefined);
    t.like(await tdb.db('outbox').where({ id: waiting }).first(), { status: 'pending' });
    const names = (await donePartitions(tdb.db)).map((p) => p.name);
    t.false(names.includes(today));
    t.true(names.includes(`outbox_done_${ymd(days(9 + DAYS_AHEAD))}`));
  },
);

test.serial(
  'a day without a partition goes to the default one, is deleted by age, and is not made over its rows',
  async (t) => {
    const [row] = await tdb
      .db('outbox')
      .insert([
        { kind: 'k', payload: {}, status: 'sent', processed_at: days(30) },
        { kind: 'k', payload: {}, status: 'sent', processed_at: days(41) },
      ])
      .returning('id');
    t.is(await partitionOf(String(row!.id)), 'outbox_done_default');

    const run = await maintainPartitions(tdb.db, { retentionDays: 7, at: days(40) });
    t.is(run.deleted, 1);
    t.false(run.made.includes(`outbox_done_${ymd(days(41))}`), 'its rows stay in the default partition');
    t.true(run.made.includes(`outbox_done_${ymd(days(42))}`));
    t.is(
      await tdb
        .db('outbox')
        .count({ n: '*' })
        .first()
        .then((r) => Number(r!.n)),
      1,
    );
  },
);

test.serial(
  'a drop that cannot have its lock at once waits for the next run instead of holding finishes up',
  async (t) => {
    await sent('a@dm.com');
    const reader = new pg.Client({ connectionString: tdb.url });
    await reader.connect();
    t.teardown(() => reader.end());
    // An operator's long read of the finished rows.
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM outbox_done');

    const blocked = await maintainPartitions(tdb.db, { retentionDays: 1, at: days(60) });
    t.deepEqual(blocked.dropped, []);
    t.true(
      blocked.deferred.some((s) => s.startsWith('drop ')),
      blocked.deferred.join(', '),
    );
    // Meanwhile rows go on being finished.
    await sent('b@dm.com');

    await reader.query('COMMIT');
    const next = await maintainPartitions(tdb.db, { retentionDays: 1, at: days(60) });
    t.true(next.dropped.length > 0);
    t.deepEqual(next.deferred, []);
  },
);

test.serial('two housekeepers at once take turns and leave one set of partitions', async (t) => {
  const runs = await Promise.all([
    maintainPartitions(tdb.db, { retentionDays: 7, at: days(100) }),
    maintainPartitions(tdb.db, { retentionDays: 7, at: days(100) }),
  ]);
  const made = runs.flatMap((r) => r.made);
  t.is(new Set(made).size, made.length, 'no day made twice');
  // What one left while the other was at it, the next run makes.
  const again = await maintainPartitions(tdb.db, { retentionDays: 7, at: days(100) });
  t.deepEqual(again.deferred, []);
  t.is(made.length + again.made.length, DAYS_AHEAD + 1);
  const names = (await donePartitions(tdb.db)).map((p) => p.name);
  for (let i = 0; i <= DAYS_AHEAD; i++) t.true(names.includes(`outbox_done_${ymd(days(100 + i))}`));
});

test.serial('renewing leases passes over a row being finished, and renews the rest', async (t) => {
  const ids = await Promise.all(
    ['a@dm.com', 'b@dm.com'].map((email) =>
      enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email }, maxAttempts: 3 }),
    ),
  );
  await claimDue(tdb.db, 'w1', 10, 60, { ids });
  const finisher = new pg.Client({ connectionString: tdb.url });
  await finisher.connect();
  t.teardown(() => finisher.end());
  // The first row's finish, moving it to outbox_done, not yet committed.
  await finisher.query('BEGIN');
  await finisher.query(`UPDATE outbox SET status = 'sent', processed_at = now() WHERE id = $1`, [ids[0]]);
  const renewing = renewLeases(tdb.db, ids, 'w1', 600);
  await finisher.query('COMMIT');
  t.is(await renewing, 1);
  const second = await tdb.db('outbox').where({ id: ids[1] }).first();
  t.true(second.locked_until.getTime() > Date.now() + 300_000, 'the other row has its new lease');
});
