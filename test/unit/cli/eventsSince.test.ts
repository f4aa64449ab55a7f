import test from 'ava';
import { parseSince } from '../../../src/cli/events.ts';

const now = Date.parse('2026-12-05T12:00:00Z');

test('--since takes a duration back from now, in seconds, minutes, hours or days', (t) => {
  t.is(parseSince('90s', now).toISOString(), '2026-12-05T11:58:30.000Z');
  t.is(parseSince('30m', now).toISOString(), '2026-12-05T11:30:00.000Z');
  t.is(parseSince('24h', now).toISOString(), '2026-12-04T12:00:00.000Z');
  t.is(parseSince('7d', now).toISOString(), '2026-11-28T12:00:00.000Z');
});

test('--since takes an ISO time as it is, and refuses anything else', (t) => {
  t.is(parseSince('2026-12-01T00:00:00Z', now).toISOString(), '2026-12-01T00:00:00.000Z');
  t.throws(() => parseSince('yesterday-ish', now), { message: /--since takes a duration/ });
});
