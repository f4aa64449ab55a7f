/** EnqueueBatcher's answers at a row's deadline, on a fake database whose INSERT never answers. */
import test from 'ava';
import type { Db } from '../../../src/db/database.ts';
import { DeadlineExceeded } from '../../../src/db/groupCommit.ts';
import { errorHandler } from '../../../src/http/errorHandler.ts';
import { EnqueueBatcher, MaybeRecorded } from '../../../src/outbox/enqueueBatcher.ts';
import type { Context } from 'koa';

/** Just enough of knex and pg for `enqueueMany`: a statement sent, whose answer (and COMMIT) never comes. */
function stalledDb() {
  const sent: unknown[][] = [];
  const db = {
    raw: (sql: string, bindings: unknown[]) => ({ toSQL: () => ({ toNative: () => ({ sql, bindings }) }) }),
    client: {
      acquireConnection: async () => ({ query: ({ values }: { values: unknown[] }) => void sent.push(values) }),
      releaseConnection: async () => {},
      emit: () => false,
    },
  };
  return { db: db as unknown as Db, sent };
}

const row = (email: string, deadline: Date) => ({
  kind: 'pwd_reset_email',
  payload: { email },
  maxAttempts: 5,
  deadline,
});

async function detailOf(err: unknown): Promise<{ status: number; detail: string }> {
  const ctx = { status: 404, body: undefined as unknown, state: { log: { warn() {}, error() {} } }, set() {} };
  await errorHandler()(ctx as unknown as Context, () => Promise.reject(err));
  return { status: ctx.status, detail: (ctx.body as { detail: string }).detail };
}

test('a row whose INSERT was sent is "may have been recorded" at its deadline; one still queued is "not recorded"', async (t) => {
  const { db, sent } = stalledDb();
  const batcher = new EnqueueBatcher(db, { maxBatch: 256, maxInFlight: 1 });
  const deadline = new Date(Date.now() + 30);
  const inInsert = batcher.enqueue(row('first@dm.com', deadline));
  const queued = batcher.enqueue(row('second@dm.com', deadline));
  const [first, second] = await Promise.allSettled([inInsert, queued]);
  t.is(sent.length, 1, 'one INSERT sent, holding the first row only');

  const maybe = (first as PromiseRejectedResult).reason;
  t.true(maybe instanceof MaybeRecorded);
  t.deepEqual(await detailOf(maybe), {
    status: 503,
    detail:
      'Service temporarily unavailable: your request may have been recorded; asking again is safe, try again shortly',
  });

  const dropped = (second as PromiseRejectedResult).reason;
  t.true(dropped instanceof DeadlineExceeded);
  t.deepEqual(await detailOf(dropped), {
    status: 503,
    detail: 'Service temporarily unavailable: your request was not recorded, try again shortly',
  });
});
