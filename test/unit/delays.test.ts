/** Delay policies (src/delays.ts) for the loops that retry; the outbox rows' backoff is in retryPolicy.test.ts. */
import test from 'ava';
import { constant, exponential, linear } from '../../src/delays.ts';

const at = (policy: (failures: number) => number, failures: number[]) => failures.map(policy);

test('exponential pauses double from the first and stop growing at the max', (t) => {
  t.deepEqual(
    at(exponential({ first: 100, max: 2000 }), [1, 2, 3, 4, 5, 6, 20]),
    [100, 200, 400, 800, 1600, 2000, 2000],
  );
  t.deepEqual(at(exponential({ first: 50, max: 5000, factor: 1.5 }), [1, 2, 3]), [50, 75, 112.5]);
});

test('full jitter draws anywhere below the pause, equal jitter in its upper half', (t) => {
  const low = () => 0;
  const high = () => 0.999;
  t.is(exponential({ first: 100, max: 2000, jitter: 'full', random: low })(3), 0);
  t.is(exponential({ first: 100, max: 2000, jitter: 'full', random: high })(3), 399.6);
  t.is(exponential({ first: 100, max: 2000, jitter: 'equal', random: low })(3), 200);
  t.is(exponential({ first: 100, max: 2000, jitter: 'equal', random: high })(3), 399.8);
});

test('equal jitter spreads clients that failed together, none sooner than half the pause', (t) => {
  const policy = exponential({ first: 250, max: 10_000, jitter: 'equal' });
  const pauses = Array.from({ length: 200 }, () => policy(4));
  t.true(pauses.every((p) => p >= 1000 && p < 2000));
  t.true(new Set(pauses.map(Math.round)).size > 50, 'many distinct pauses');
});

test('linear pauses grow by one step per failure; constant ones never change', (t) => {
  t.deepEqual(at(linear(500), [1, 2, 3]), [500, 1000, 1500]);
  t.deepEqual(at(constant(250), [1, 2, 30]), [250, 250, 250]);
});
