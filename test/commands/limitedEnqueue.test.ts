/**
 * A per-client limit and the enqueue it guards in one statement (`commands/limitedEnqueue.ts`):
 * hits counted in arrival order per client, rows queued only under the limit, a late row counted
 * and not queued, and a request that queues nothing counting nothing.
 */
import test from 'ava';
import { createBatchedLimit } from '../../src/auth/limits/batchedLimit.ts';
import { LimitedEnqueue } from '../../src/commands/limitedEnqueue.ts';
import { MaybeRecorded } from '../../src/outbox/enqueueBatcher.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi } from '../helpers/service.ts';
import { waitUntil } from '../helpers/wait.ts';

const tdb = useTestDatabase('limited_enqueue', { clean: ['outbox', 'rate_limiter'] });

const row = (email: string, deadline?: Date) => ({
  kind: 'pwd_reset_email',
  payload: { email },
  maxAttempts: 8,
  deadline,
});

test.serial(
  'one batch of two clients: each gets its limit in arrival order, and only allowed rows are queued, in order',
  async (t) => {
    const limited = new LimitedEnqueue(tdb.db, createBatchedLimit(tdb.db, 'unit', 2, 60)!);
    const asks = ['a', 'b', 'a', 'a', 'b', 'b', 'a'].map((client, i) =>
      limited.enqueue(client, row(`${client}${i}@dm.com`)),
    );
    const outcomes = await Promise.all(asks);
    t.deepEqual(
      outcomes.map((o) => o.allowed),
      [true, true, true, false, true, false, false],
    );
    const refused = outcomes.find((o) => !o.allowed)!;
    t.true(!refused.allowed && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 60);
    const queued = await tdb.db('outbox').orderBy('id').select('id', 'payload');
    t.deepEqual(
      queued.map((r) => r.payload.email),
      ['a0@dm.com', 'b1@dm.com', 'a2@dm.com', 'b4@dm.com'],
    );
    t.deepEqual(
      outcomes.filter((o) => o.allowed).map((o) => o.allowed && o.id),
      queued.map((r) => r.id),
    );
    const counts = await tdb.db('rate_limiter').whereIn('key', ['unit:a', 'unit:b']).orderBy('key').select('points');
    t.deepEqual(
      counts.map((c) => c.points),
      [4, 3],
      'refused hits are counted too',
    );
  },
);

test.serial(
  'a batch held past its deadline: the caller hears MaybeRecorded, and the late row is counted but not queued',
  async (t) => {
    const limited = new LimitedEnqueue(tdb.db, createBatchedLimit(tdb.db, 'late', 5, 60)!);
    // Another transaction holds the client's row, so the statement waits past the deadline.
    await tdb.db('rate_limiter').insert({ key: 'late:c', points: 0, expire: Date.now() + 60_000 });
    const trx = await tdb.db.transaction();
    await trx('rate_limiter').where({ key: 'late:c' }).forUpdate().select('key');
    await t.throwsAsync(limited.enqueue('c', row('late@dm.com', new Date(Date.now() + 300))), {
      instanceOf: MaybeRecorded,
    });
    await trx.commit();
    await waitUntil(
      async () => (await tdb.db('rate_limiter').where({ key: 'late:c' }).first()).points === 1,
      'the held statement to run',
    );
    t.is(Number((await tdb.db('outbox').count({ n: '*' }))[0]!.n), 0);
  },
);

test.serial('through the API, a body that fails validation counts nothing on the reset budget', async (t) => {
  const api = await startApi(testConfig(tdb.url, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '3' }));
  t.teardown(() => api.service.stop());
  for (let i = 0; i < 5; i++) {
    t.is((await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'not an address' } })).status, 422);
  }
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    statuses.push((await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'valid@dm.com' } })).status);
  }
  t.deepEqual(statuses, [200, 200, 200, 429]);
});
