import test from 'ava';
import { Overloaded } from '../../../src/errors.ts';
import { hashesInProgress, setHashLimits, withHashSlot } from '../../../src/users/hashQueue.ts';

test.serial('at most `concurrency` hashes run, `queue` wait, the rest are refused at once', async (t) => {
  setHashLimits({ concurrency: 2, queue: 3 });
  let running = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const hash = () =>
    new Promise<string>((resolve) => {
      running++;
      most = Math.max(most, running);
      releases.push(() => {
        running--;
        resolve('done');
      });
    });
  const outcomes = Array.from({ length: 8 }, () =>
    withHashSlot(hash).then(
      () => 'ran',
      (err) => (err instanceof Overloaded ? 'refused' : 'error'),
    ),
  );
  // The refusals settle before any hash finishes.
  await new Promise((r) => setImmediate(r));
  t.deepEqual(hashesInProgress(), { running: 2, waiting: 3 });
  while (releases.length > 0 || running > 0) {
    releases.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  t.deepEqual((await Promise.all(outcomes)).sort(), [
    'ran',
    'ran',
    'ran',
    'ran',
    'ran',
    'refused',
    'refused',
    'refused',
  ]);
  t.is(most, 2);
  t.deepEqual(hashesInProgress(), { running: 0, waiting: 0 });
});

test.serial('a failing hash frees its slot', async (t) => {
  setHashLimits({ concurrency: 1, queue: 0 });
  await t.throwsAsync(
    withHashSlot(() => Promise.reject(new Error('boom'))),
    { message: 'boom' },
  );
  t.is(await withHashSlot(async () => 'next'), 'next');
  t.deepEqual(hashesInProgress(), { running: 0, waiting: 0 });
});

/** Holds every hash until released; for watching the order they start in. */
function heldHashes() {
  const started: string[] = [];
  const releases: (() => void)[] = [];
  const hash = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      releases.push(() => resolve(name));
    });
  const drain = async () => {
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { started, hash, drain };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ran',
    (err) => (err instanceof Overloaded ? 'refused' : 'error'),
  );

test.serial(
  'a trusted client’s hash goes before the anonymous ones waiting, even when their line is full',
  async (t) => {
    setHashLimits({ concurrency: 1, queue: 2 });
    const { started, hash, drain } = heldHashes();
    const flood = ['a', 'b', 'c', 'd'].map((n) => outcome(withHashSlot(hash(n), { client: `stranger-${n}` })));
    const owner = outcome(withHashSlot(hash('owner'), { trusted: true }));
    await new Promise((r) => setImmediate(r));
    await drain();
    t.deepEqual(await Promise.all(flood), ['ran', 'ran', 'ran', 'refused']);
    t.is(await owner, 'ran');
    t.deepEqual(started, ['a', 'owner', 'b', 'c']);
  },
);

test.serial('one anonymous client holds at most two places in line', async (t) => {
  setHashLimits({ concurrency: 1, queue: 8 });
  const { hash, drain } = heldHashes();
  const same = Array.from({ length: 5 }, (_, i) => outcome(withHashSlot(hash(`x${i}`), { client: 'one' })));
  const other = outcome(withHashSlot(hash('other'), { client: 'two' }));
  await new Promise((r) => setImmediate(r));
  await drain();
  t.deepEqual(await Promise.all(same), ['ran', 'ran', 'ran', 'refused', 'refused']);
  t.is(await other, 'ran');
  t.deepEqual(hashesInProgress(), { running: 0, waiting: 0 });
});
