/** The one retry loop (src/retrying.ts): how often it tries, when it gives up, how a stop cuts it short. */
import test from 'ava';
import { retrying } from '../../src/retrying.ts';

/** A try that fails `times` times with `err`, then returns 'done'. */
const failing = (times: number, err: unknown = new Error('down')) => {
  const tries: number[] = [];
  const work = async (attempt: number) => {
    tries.push(attempt);
    if (tries.length <= times) throw err;
    return 'done';
  };
  return { tries, work };
};

const noPause = () => 0;

test('a failing try is tried again until it succeeds, and its result is returned', async (t) => {
  const { tries, work } = failing(3);
  t.is(await retrying(work, { delay: noPause }), 'done');
  t.deepEqual(tries, [1, 2, 3, 4]);
});

test('an error the predicate refuses is thrown at once, untried', async (t) => {
  const bug = new TypeError('x is undefined');
  const { tries, work } = failing(5, bug);
  const thrown = await t.throwsAsync(retrying(work, { delay: noPause, retryIf: (err) => !(err instanceof TypeError) }));
  t.is(thrown, bug);
  t.deepEqual(tries, [1]);
});

test('after its last attempt the last error is thrown as it is', async (t) => {
  const { tries, work } = failing(5);
  await t.throwsAsync(retrying(work, { delay: noPause, attempts: 3 }), { message: 'down' });
  t.deepEqual(tries, [1, 2, 3]);
});

test('a pause that would end past the deadline is not taken', async (t) => {
  const { tries, work } = failing(5);
  const started = Date.now();
  await t.throwsAsync(retrying(work, { delay: () => 60_000, deadline: Date.now() + 1000 }), { message: 'down' });
  t.deepEqual(tries, [1]);
  t.true(Date.now() - started < 1000, 'gave up without waiting');
});

test('the delay policy is asked with the failures so far and the last error, and its pauses are taken', async (t) => {
  const asked: [number, unknown][] = [];
  const told: [number, number][] = [];
  const { work } = failing(3);
  await retrying(work, {
    delay: (failures, err) => {
      asked.push([failures, (err as Error).message]);
      return failures;
    },
    onRetry: (_, attempt, pauseMs) => told.push([attempt, pauseMs]),
  });
  t.deepEqual(asked, [
    [1, 'down'],
    [2, 'down'],
    [3, 'down'],
  ]);
  t.deepEqual(told, [
    [1, 1],
    [2, 2],
    [3, 3],
  ]);
});

test('pauseFirst waits the first pause before the first try, as after a failure', async (t) => {
  const asked: number[] = [];
  const { tries, work } = failing(1);
  await retrying(work, { pauseFirst: true, delay: (failures) => (asked.push(failures), 0) });
  t.deepEqual(asked, [1, 2], 'the first try waits the pause after one failure, the second after two');
  t.deepEqual(tries, [1, 2]);
});

test('a try that ran past startOverAfterMs before it failed starts the pauses over', async (t) => {
  const asked: number[] = [];
  let attempt = 0;
  await retrying(
    async () => {
      attempt++;
      // The second try runs a while (a thread that worked, then crashed); the others fail at once.
      if (attempt === 2) await new Promise((r) => setTimeout(r, 300));
      if (attempt < 4) throw new Error('crashed');
    },
    { delay: (failures) => (asked.push(failures), 0), startOverAfterMs: 200 },
  );
  t.deepEqual(asked, [1, 1, 2]);
});

test('an abort cuts a pause short and rejects with the signal reason; no further try starts', async (t) => {
  const stop = new AbortController();
  const { tries, work } = failing(5);
  const started = Date.now();
  const run = retrying(work, {
    delay: () => 60_000,
    signal: stop.signal,
    onRetry: () => stop.abort(new Error('stopping')),
  });
  await t.throwsAsync(run, { message: 'stopping' });
  t.deepEqual(tries, [1]);
  t.true(Date.now() - started < 5000, 'did not sit out the pause');
});

test('a try that fails because of an abort is not retried', async (t) => {
  const stop = new AbortController();
  let tries = 0;
  const run = retrying(
    async () => {
      tries++;
      stop.abort(new Error('stopping'));
      throw new Error('connection closed by the stop');
    },
    { delay: noPause, signal: stop.signal },
  );
  await t.throwsAsync(run, { message: 'stopping' });
  t.is(tries, 1);
});

test('an aborted signal starts no try at all', async (t) => {
  const { tries, work } = failing(0);
  await t.throwsAsync(retrying(work, { delay: noPause, signal: AbortSignal.abort(new Error('stopped')) }), {
    message: 'stopped',
  });
  t.deepEqual(tries, []);
});
