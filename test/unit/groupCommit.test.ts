import test from 'ava';
import { GroupCommit } from '../../src/db/groupCommit.ts';

const tick = () => new Promise((r) => setImmediate(r));

test('items that arrive while a write is under way share the next write; each gets its own result', async (t) => {
  const writes: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gc = new GroupCommit(
    async (items: number[]) => {
      writes.push(items);
      if (writes.length === 1) await gate;
      return items.map((i) => i * 10);
    },
    { maxInFlight: 1 },
  );
  const first = gc.add(1);
  const rest = [gc.add(2), gc.add(3), gc.add(4)];
  await tick();
  release();
  t.deepEqual(await Promise.all([first, ...rest]), [10, 20, 30, 40]);
  t.deepEqual(writes, [[1], [2, 3, 4]]);
});

test('with a free slot an item is written at once, alone', async (t) => {
  const writes: string[][] = [];
  const gc = new GroupCommit(async (items: string[]) => (writes.push(items), items));
  t.is(await gc.add('a'), 'a');
  t.deepEqual(writes, [['a']]);
});

test('a batch refused for its data is written item by item, so only the item at fault fails', async (t) => {
  const dataError = Object.assign(new Error('invalid input'), { code: '22P02' });
  const gc = new GroupCommit(
    async (items: string[]) => {
      if (items.includes('bad')) throw dataError;
      return items;
    },
    {
      maxInFlight: 1,
      writeOne: async (item) => {
        if (item === 'bad') throw dataError;
        return item;
      },
    },
  );
  const blocker = gc.add('first');
  const results = await Promise.allSettled([gc.add('x'), gc.add('bad'), gc.add('y')]);
  await blocker;
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
});

test('any other failure fails the whole batch (the database is away: every caller gets it)', async (t) => {
  const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  let calls = 0;
  const gc = new GroupCommit(
    async () => {
      calls++;
      throw down;
    },
    { writeOne: async () => 'never' },
  );
  const results = await Promise.allSettled([gc.add(1), gc.add(2)]);
  t.true(results.every((r) => r.status === 'rejected'));
  t.true(calls >= 1);
});

test('maxBatch caps how many items share one write', async (t) => {
  const sizes: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gc = new GroupCommit(
    async (items: number[]) => {
      sizes.push(items.length);
      if (sizes.length === 1) await gate;
      return items;
    },
    { maxInFlight: 1, maxBatch: 2 },
  );
  const all = [gc.add(0), gc.add(1), gc.add(2), gc.add(3), gc.add(4)];
  await tick();
  release();
  await Promise.all(all);
  t.deepEqual(sizes, [1, 2, 2]);
});
