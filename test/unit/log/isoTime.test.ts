import test from 'ava';
import { isoTime } from '../../../src/log.ts';

const timeOf = (field: string) => (JSON.parse(`{${field.slice(1)}}`) as { time: string }).time;

test("a log line's time is pino's isoTime field: the current millisecond, in ISO 8601 UTC", (t) => {
  const before = Date.now();
  const field = isoTime();
  const after = Date.now();
  t.regex(field, /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  const at = Date.parse(timeOf(field));
  t.true(at >= before && at <= after);
});

test("a log line's time moves on with the clock, though lines of one millisecond share it", async (t) => {
  const first = Date.parse(timeOf(isoTime()));
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.true(Date.parse(timeOf(isoTime())) > first);
});
