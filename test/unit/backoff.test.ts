import test from 'ava';
import { backoffSeconds } from '../../src/outbox/backoff.ts';

const settings = { BACKOFF_BASE_SECONDS: 5, BACKOFF_MAX_SECONDS: 60 };

test('the first retry waits the base, then the wait doubles', (t) => {
  t.deepEqual(
    [1, 2, 3, 4].map((n) => backoffSeconds(settings, n)),
    [5, 10, 20, 40],
  );
});

test('the wait never passes the maximum', (t) => {
  t.is(backoffSeconds(settings, 10), 60);
  t.is(backoffSeconds(settings, 1000), 60);
});
