/** GroupCommit on a fake writer: no database. */
import test from 'ava';
import { DeadlineExceeded, GroupCommit, QueueFull } from '../../src/db/groupCommit.ts';

/** What PostgreSQL says for a value it refuses (SQLSTATE 22P05, untranslatable character). */
const refused = () => Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });

/** A writer that refuses any batch holding a negative number, and counts its statements. */
function fakeWriter() {
  const calls: number[][] = [];
  const writeMany = async (items: number[]) => {
    calls.push(items);
    await new Promise((r) => setImmediate(r));
    if (items.some((n) => n < 0)) throw refused();
    return items.map((n) => n * 10);
  };
  return { calls, writeMany };
}

test('one bad item in a batch of 256 costs about 2·log2(256) writes, not 256', async (t) => {
  const { calls, writeMany } = fakeWriter();
  const commit = new GroupCommit(writeMany, { maxBatch: 256, maxInFlight: 1, bisect: true });
  const items = Array.from({ length: 256 }, (_, i) => (i === 77 ? -1 : i));
  const outcomes = await Promise.allSettled(items.map((n) => commit.add(n)));
  t.deepEqual(outcomes.filter((o) => o.status === 'rejected').length, 1);
  t.is((outcomes[77] as PromiseRejectedResult).reason.code, '22P05');
  t.deepEqual(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : null)),
    items.map((n) => (n < 0 ? null : n * 10)),
  );
  t.true(calls.length <= 2 * Math.log2(256) + 2, `${calls.length} writes`);
});

test('bisecting keeps the order of the items', async (t) => {
  const { calls, writeMany } = fakeWriter();
  const commit = new GroupCommit(writeMany, { maxBatch: 8, maxInFlight: 1, bisect: true });
  await Promise.allSettled([1, 2, -3, 4, 5, -6, 7, 8].map((n) => commit.add(n)));
  const written = calls.filter((c) => !c.some((n) => n < 0)).flat();
  t.deepEqual(written, [1, 2, 4, 5, 7, 8]);
});

test('without bisect a refused batch fails whole', async (t) => {
  const { writeMany } = fakeWriter();
  const commit = new GroupCommit(writeMany, { maxBatch: 8, maxInFlight: 1 });
  // The first item is written at once, alone; the next two share a batch.
  const outcomes = await Promise.allSettled([1, -2, 3].map((n) => commit.add(n)));
  t.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'rejected'],
  );
});

test('an item still queued at its deadline is dropped unwritten and its caller gets DeadlineExceeded', async (t) => {
  const written: number[] = [];
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  const commit = new GroupCommit(
    async (items: number[]) => {
      written.push(...items);
      await stuck;
      return items;
    },
    { maxInFlight: 1 },
  );
  const first = commit.add(1, { deadline: Date.now() + 50 });
  const second = commit.add(2, { deadline: Date.now() + 50 });
  const started = Date.now();
  await t.throwsAsync(first, { instanceOf: DeadlineExceeded });
  await t.throwsAsync(second, { instanceOf: DeadlineExceeded });
  t.true(Date.now() - started < 500);
  release();
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(written, [1], 'the item that never reached a write was never written');
  t.is(commit.queued, 0);
});

test('a full queue refuses at once with QueueFull', async (t) => {
  const commit = new GroupCommit(() => new Promise<number[]>(() => {}), { maxInFlight: 1, maxBatch: 1, maxQueued: 2 });
  void commit.add(1);
  void commit.add(2);
  void commit.add(3);
  await t.throwsAsync(commit.add(4), { instanceOf: QueueFull });
});
