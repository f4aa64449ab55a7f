import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TurnDestination } from '../../../src/logDestination.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const line = (n: number, size = 100) => `${JSON.stringify({ n, pad: 'x'.repeat(size) })}\n`;

/** A file descriptor's writes as the kernel would take them; `refuse` answers one with an error. */
function recorder() {
  const writes: string[] = [];
  const refusals: string[] = [];
  const write = (_fd: number, buffer: Uint8Array, offset: number, length: number) => {
    const code = refusals.shift();
    if (code) throw Object.assign(new Error(code), { code });
    writes.push(Buffer.from(buffer.subarray(offset, offset + length)).toString());
    return length;
  };
  const refuse = (code: string, times = 1) => refusals.push(...Array<string>(times).fill(code));
  return { writes, refuse, write };
}

test('the lines logged in one turn are written together, after the turn', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  destination.write(line(1));
  destination.write(line(2));
  destination.write(line(3));
  t.deepEqual(fd.writes, []);
  await nextTurn();
  t.deepEqual(fd.writes, [line(1) + line(2) + line(3)]);
  destination.write(line(4));
  await nextTurn();
  t.deepEqual(fd.writes, [line(1) + line(2) + line(3), line(4)]);
});

test('a turn of more than PIPE_BUF bytes is written in whole lines of at most 4096 bytes each', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  const lines = Array.from({ length: 100 }, (_, n) => line(n, 90 + (n % 7) * 30));
  for (const one of lines) destination.write(one);
  await nextTurn();
  t.true(fd.writes.length > 1);
  for (const write of fd.writes) {
    t.true(Buffer.byteLength(write) <= 4096);
    t.true(write.endsWith('\n'));
  }
  t.is(fd.writes.join(''), lines.join(''));
});

test('a line longer than PIPE_BUF is written whole, in a write of its own', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  destination.write(line(1));
  destination.write(line(2, 10_000));
  destination.write(line(3));
  await nextTurn();
  t.deepEqual(fd.writes, [line(1), line(2, 10_000), line(3)]);
});

test('lines the reader could not take yet (EAGAIN) are written later, in order, before newer ones', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  fd.refuse('EAGAIN');
  destination.write(line(1));
  await nextTurn();
  t.deepEqual(fd.writes, []);
  destination.write(line(2));
  await new Promise<void>((resolve) => destination.flush(() => resolve()));
  t.is(fd.writes.join(''), line(1) + line(2));
});

test('flush calls back once every line taken has been written', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  destination.write(line(1));
  let called = false;
  destination.flush(() => (called = true));
  t.true(called);
  t.deepEqual(fd.writes, [line(1)]);
});

test('a reader gone for good (EPIPE) ends logging without an error', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  fd.refuse('EPIPE');
  destination.write(line(1));
  await nextTurn();
  destination.write(line(2));
  await new Promise<void>((resolve) => destination.flush(() => resolve()));
  t.deepEqual(fd.writes, []);
});

test('at exit, what is held is written, and two threads sharing a pipe never cut into each other', async (t) => {
  const script = fileURLToPath(new URL('../../helpers/logLines.ts', import.meta.url));
  const count = 3000;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import=tsx', script, String(count)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = stdout.split('\n').slice(0, -1);
  const seen = { main: new Set<number>(), worker: new Set<number>() };
  for (const text of lines) {
    const entry = JSON.parse(text) as { thread: 'main' | 'worker'; i: number; msg: string };
    t.is(entry.msg, 'a line');
    seen[entry.thread].add(entry.i);
  }
  t.is(seen.main.size, count);
  t.is(seen.worker.size, count);
});

test('beyond 8 M characters held for a reader that does not read, lines are dropped, then counted in one warning', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  destination.write(line(0));
  fd.refuse('EAGAIN', 20);
  await nextTurn();
  const total = 90_000;
  for (let n = 1; n < total; n++) {
    destination.write(line(n));
    if (n % 10_000 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await new Promise<void>((resolve) => destination.flush(() => resolve()));
  const written = fd.writes.join('').split('\n').slice(0, -1);
  const warnings = written.filter((text) => text.includes('"dropped"'));
  t.is(warnings.length, 1);
  const warning = JSON.parse(warnings[0]!) as { level: number; msg: string; dropped: number };
  t.is(warning.level, 40);
  t.regex(warning.msg, /log lines dropped/);
  t.is(written.length - 1 + warning.dropped, total);
  t.true(warning.dropped > 0);
  t.is(written.at(-1), warnings[0]);
  const numbers = written.slice(0, -1).map((text) => (JSON.parse(text) as { n: number }).n);
  t.deepEqual(
    numbers,
    [...numbers].sort((a, b) => a - b),
  );
});

test('a write that fails otherwise (a full disk) loses those lines, counted, once, and the service goes on', async (t) => {
  const fd = recorder();
  const destination = new TurnDestination(1, fd.write);
  const lines = Array.from({ length: 100 }, (_, n) => line(n));
  for (const one of lines) destination.write(one);
  fd.writes.length = 0;
  fd.refuse('ENOSPC', 2);
  await t.notThrowsAsync(nextTurn());
  destination.write(line(100));
  await nextTurn();
  destination.write(line(101));
  await new Promise<void>((resolve) => destination.flush(() => resolve()));
  const written = fd.writes.join('').split('\n').slice(0, -1);
  const warning = JSON.parse(written.find((text) => text.includes('"dropped"'))!) as { dropped: number };
  t.is(warning.dropped, 101);
  t.deepEqual(
    written.filter((text) => !text.includes('"dropped"')),
    [line(101).trimEnd()],
  );
});
