/** GroupCommit on a fake writer: no database. */
import test from 'ava';
import { DeadlineExceeded, GroupCommit, QueueFull } from '../../../src/db/groupCommit.ts';

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
  // The write never ends until released below: both deadlines pass while it is stuck.
  await t.throwsAsync(first, { instanceOf: DeadlineExceeded });
  await t.throwsAsync(second, { instanceOf: DeadlineExceeded });
  release();
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(written, [1], 'the item that never reached a write was never written');
  t.is(commit.queued, 0);
});

test('at its deadline a caller learns whether its item was dropped unwritten or is in a write already sent', async (t) => {
  const commit = new GroupCommit(() => new Promise<number[]>(() => {}), { maxInFlight: 1, maxBatch: 1 });
  const inWrite = commit.add(1, { deadline: Date.now() + 30 });
  const queued = commit.add(2, { deadline: Date.now() + 30 });
  const [sent, dropped] = await Promise.allSettled([inWrite, queued]);
  t.like((sent as PromiseRejectedResult).reason, { name: 'DeadlineExceeded', sent: true });
  t.like((dropped as PromiseRejectedResult).reason, { name: 'DeadlineExceeded', sent: false });
});

test('a full queue refuses at once with QueueFull', async (t) => {
  const commit = new GroupCommit(() => new Promise<number[]>(() => {}), { maxInFlight: 1, maxBatch: 1, maxQueued: 2 });
  void commit.add(1);
  void commit.add(2);
  void commit.add(3);
  await t.throwsAsync(commit.add(4), { instanceOf: QueueFull });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** A writer whose writes wait until released (`release()`), recording every batch; `fails` refuses a batch for its data. */
function heldWriter(fails: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const held: (() => void)[] = [];
  const write = async (items: number[]) => {
    batches.push([...items]);
    await new Promise<void>((r) => held.push(r));
    if (fails(items)) throw Object.assign(new Error('bad value'), { code: '22P05' });
    return items.map((n) => n * 10);
  };
  return { batches, write, release: () => held.splice(0).forEach((go) => go()) };
}

/** How a promise settled: `ok:<value>` or `err:<name>`, each time it did. */
function settled<T>(p: Promise<T>): string[] {
  const seen: string[] = [];
  p.then(
    (v) => seen.push(`ok:${String(v)}`),
    (e: Error) => seen.push(`err:${e.name}`),
  );
  return seen;
}

test.serial(
  'callers whose deadline passes while their write is in flight get DeadlineExceeded once, never a late success',
  async (t) => {
    const before = timers();
    const writer = heldWriter();
    const commit = new GroupCommit(writer.write, { maxInFlight: 1, maxBatch: 1000 });
    void commit.add(0);
    const callers = Array.from({ length: 200 }, (_, i) =>
      settled(commit.add(i + 1, { deadline: Date.now() + 30 + (i % 5) * 10 })),
    );
    writer.release();
    await sleep(120);
    t.is(writer.batches[1]!.length, 200, 'written together');
    t.true(callers.every((c) => c.join() === 'err:DeadlineExceeded'));
    t.is(timers(), before, 'no timer left once every timed caller is answered');
    writer.release();
    await sleep(10);
    t.true(
      callers.every((c) => c.join() === 'err:DeadlineExceeded'),
      'the write succeeding late changes nothing',
    );
  },
);

test('a later item with an earlier deadline is answered at its own deadline', async (t) => {
  const writer = heldWriter();
  const commit = new GroupCommit(writer.write, { maxInFlight: 1 });
  void commit.add(0);
  const far = settled(commit.add(1, { deadline: Date.now() + 5000 }));
  const near = settled(commit.add(2, { deadline: Date.now() + 30 }));
  await sleep(80);
  t.deepEqual([far, near], [[], ['err:DeadlineExceeded']]);
  writer.release();
  await sleep(5);
  writer.release();
  await sleep(5);
  t.deepEqual(far, ['ok:10']);
  t.deepEqual(writer.batches, [[0], [1]], 'the expired item was dropped unwritten');
});

test('a deadline that is not a number (an invalid Date) counts as passed', async (t) => {
  const commit = new GroupCommit(() => new Promise<number[]>(() => {}), { maxInFlight: 1 });
  await t.throwsAsync(commit.add(1, { deadline: Number.NaN }), { instanceOf: DeadlineExceeded });
});

test('a batch split after a data error does not write again the items whose callers were told DeadlineExceeded', async (t) => {
  const writer = heldWriter((items) => items.some((n) => n < 0));
  const commit = new GroupCommit(writer.write, { maxInFlight: 1, maxBatch: 8, bisect: true });
  void commit.add(0);
  const callers = [1, 2, -3, 4].map((n, i) => settled(commit.add(n, { deadline: Date.now() + (i < 2 ? 30 : 5000) })));
  writer.release();
  await sleep(60);
  for (let i = 0; i < 6; i++) {
    writer.release();
    await sleep(5);
  }
  t.deepEqual(callers, [['err:DeadlineExceeded'], ['err:DeadlineExceeded'], ['err:Error'], ['ok:40']]);
  t.deepEqual(writer.batches.slice(2), [[-3], [4]], 'only the callers still waiting are written again');
});

test('a caller told DeadlineExceeded while the first half of a split batch is written is not written in the second', async (t) => {
  const writer = heldWriter((items) => items.some((n) => n < 0));
  const commit = new GroupCommit(writer.write, { maxInFlight: 1, maxBatch: 8, bisect: true });
  void commit.add(0);
  const callers = [-1, 2, 3, 4].map((n, i) => settled(commit.add(n, { deadline: Date.now() + (i === 3 ? 40 : 5000) })));
  writer.release();
  await sleep(5);
  writer.release(); // [-1, 2, 3, 4] fails: split into [-1, 2] and [3, 4]
  await sleep(5);
  writer.release(); // [-1, 2] fails: split into [-1] and [2]
  await sleep(60); // 4's deadline passes meanwhile
  for (let i = 0; i < 4; i++) {
    writer.release();
    await sleep(5);
  }
  t.deepEqual(callers, [['err:Error'], ['ok:20'], ['ok:30'], ['err:DeadlineExceeded']]);
  t.deepEqual(writer.batches.slice(-1), [[3]], 'the second half went without the caller already answered');
});

test('a split that fails in itself still answers every caller of the batch', async (t) => {
  // 0 is written; a batch of anything else is refused, and deciding whether to split it throws.
  const commit = new GroupCommit<number, number>(
    (items) =>
      items.includes(0)
        ? sleep(5).then(() => items)
        : Promise.reject(Object.assign(new Error('bad value'), { code: '22P05' })),
    {
      maxInFlight: 1,
      bisect: () => {
        throw new Error('bisect broke');
      },
    },
  );
  void commit.add(0);
  const outcomes = await Promise.allSettled([1, 2].map((n) => commit.add(n, { deadline: Date.now() + 5000 })));
  t.deepEqual(
    outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok')),
    ['bisect broke', 'bisect broke'],
  );
});
