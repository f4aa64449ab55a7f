/** A task reads each payload version it declares with that version's schema, and nothing else. */
import test from 'ava';
import { z } from 'zod';
import { claimable, defineTask, SENT, UnreadablePayload, type TaskRow } from '../../../src/outbox/taskList.ts';

const row = (payload_version: number, payload: Record<string, unknown>): TaskRow => ({
  id: '1',
  kind: 'greeting',
  payload_version,
  payload,
});

/** Version 1 carried a bare address; version 2 an object. Both read into version 2's shape. */
function greetingTask(seen: { email: string }[]) {
  return defineTask(
    {
      1: z.object({ email: z.string() }).transform(({ email }) => ({ to: { email } })),
      2: z.object({ to: z.object({ email: z.string() }) }),
    },
    async (payload) => {
      seen.push(payload.to);
      return SENT;
    },
  );
}

test('each version is read with its own schema into the one shape the task works on', async (t) => {
  const seen: { email: string }[] = [];
  const task = greetingTask(seen);
  await task.run(row(1, { email: 'a@dm.com' }));
  await task.run(row(2, { to: { email: 'b@dm.com' } }));
  t.deepEqual(seen, [{ email: 'a@dm.com' }, { email: 'b@dm.com' }]);
});

test('a payload its version cannot read is an UnreadablePayload naming the field, and the task does not run', async (t) => {
  const seen: { email: string }[] = [];
  const task = greetingTask(seen);
  const empty = await t.throwsAsync(task.run(row(1, {})), { instanceOf: UnreadablePayload });
  t.regex(empty.message, /^unreadable payload: email: .*expected string, received undefined$/);
  const numeric = await t.throwsAsync(task.run(row(2, { to: { email: 42 } })), { instanceOf: UnreadablePayload });
  t.regex(numeric.message, /^unreadable payload: to\.email: .*expected string, received number$/);
  const notAnObject = await t.throwsAsync(task.run(row(2, ['x'] as never)), { instanceOf: UnreadablePayload });
  t.regex(notAnObject.message, /^unreadable payload: payload: .*expected object/);
  t.deepEqual(seen, []);
});

test('the claim may take exactly the kinds and versions the task list declares', (t) => {
  const tasks = { greeting: greetingTask([]), farewell: defineTask({ 3: z.object({}) }, async () => SENT) };
  t.deepEqual(claimable(tasks), [
    { kind: 'greeting', payloadVersion: 1 },
    { kind: 'greeting', payloadVersion: 2 },
    { kind: 'farewell', payloadVersion: 3 },
  ]);
});
