/**
 * The per-client limit on the reset request: one budget shared by every instance, requests
 * arriving together counted by one statement, and a burst that still gets exactly its limit
 * through.
 */
import test from 'ava';
import { createBatchedLimit } from '../../src/auth/limits/batchedLimit.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('limit_per_client', { clean: ['outbox', 'rate_limiter'] });
let api: Api;
test.before(async () => {
  api = await startApi(testConfig(tdb.url, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '5' }));
  tdb.teardown(() => api.service.stop());
});

const ask = () =>
  api.request('POST', '/user/pwd_reset_token/', {
    body: JSON.stringify({ email: 'burst@dm.com' }),
    headers: { 'content-type': 'application/json' },
  });
const json = (body: unknown) => ({ json: body });

test.serial(
  'a burst of 60 parallel reset requests from one client: 5 answered and queued, 55 refused 429',
  async (t) => {
    const answers = await Promise.all(Array.from({ length: 60 }, ask));
    const statuses = answers.map((a) => a.status);
    t.is(statuses.filter((s) => s === 200).length, 5);
    t.is(statuses.filter((s) => s === 429).length, 55);
    const refused = answers.find((a) => a.status === 429)!;
    const retryAfter = Number(refused.headers.get('retry-after'));
    t.true(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    t.is(Number((await tdb.db('outbox').count({ n: '*' }))[0]!.n), 5);
    const rows = await tdb.db('rate_limiter').where('key', 'like', 'pwd-reset:%');
    t.is(rows.length, 1, "one row for the client, in rate-limiter-flexible's key format");
    t.is(rows[0].points, 60, 'every request counted, the refused ones too');
  },
);

test.serial(
  'the reset limit is shared by two instances: 429 with Retry-After, same detail for any address',
  async (t) => {
    const config = testConfig(tdb.url, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '3' });
    const [a, b] = [await startApi(config), await startApi(config)];
    t.teardown(() => Promise.all([a.service.stop(), b.service.stop()]));
    const answers = [];
    for (const [api, email] of [
      [a, 'one@dm.com'],
      [b, 'two@dm.com'],
      [a, 'three@dm.com'],
      [b, 'four@dm.com'],
      [a, 'five@dm.com'],
    ] as const) {
      answers.push(await api.request('POST', '/user/pwd_reset_token/', json({ email })));
    }
    t.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 429, 429],
    );
    t.deepEqual(answers[3]!.body, answers[4]!.body);
    t.deepEqual(answers[3]!.body, { detail: 'Too many requests, try again later' });
    const retryAfter = Number(answers[3]!.headers.get('retry-after'));
    t.true(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    t.is(Number((await tdb.db('outbox').count({ n: '*' }))[0]!.n), 3, 'refused requests queue nothing');
  },
);

test.serial('hits of one key in one batch count in arrival order, and a new window starts from 1', async (t) => {
  const limit = createBatchedLimit(tdb.db, 'unit', 3, 60)!;
  const taken = await Promise.all(['a', 'b', 'a', 'a', 'a', 'b'].map((key) => limit.take(key)));
  t.deepEqual(
    taken.map((x) => [x.hits, x.allowed]),
    [
      [1, true],
      [1, true],
      [2, true],
      [3, true],
      [4, false],
      [2, true],
    ],
  );
  await tdb
    .db('rate_limiter')
    .where({ key: 'unit:a' })
    .update({ expire: Date.now() - 1 });
  const again = await limit.take('a');
  t.like(again, { hits: 1, allowed: true });
});

test.serial(
  'a key longer than the table takes is counted under its hash, beside the keys counted with it',
  async (t) => {
    const limit = createBatchedLimit(tdb.db, 'unit', 3, 60)!;
    const long = 'x'.repeat(300);
    const taken = await Promise.all([limit.take('fine'), limit.take(long), limit.take(long)]);
    t.deepEqual(
      taken.map((x) => x.hits),
      [1, 1, 2],
    );
    const rows = await tdb.db('rate_limiter').where('key', 'like', 'unit:sha256:%');
    t.is(rows.length, 1);
  },
);

test.serial('behind a proxy, one IPv6 /64 and every spelling of an address share one budget', async (t) => {
  const proxied = await startApi(
    testConfig(tdb.url, {
      DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '5',
      DUNDIE_SECURITY__TRUST_PROXY: 'true',
    }),
  );
  t.teardown(() => proxied.service.stop());
  const from = (client: string) =>
    proxied.request('POST', '/user/pwd_reset_token/', {
      json: { email: 'proxied@dm.com' },
      headers: { 'x-forwarded-for': client },
    });
  const sixes = await Promise.all(Array.from({ length: 12 }, (_, i) => from(`2001:db8:1:2::${(i + 1).toString(16)}`)));
  t.is(sixes.filter((a) => a.status === 200).length, 5);
  const spellings = ['198.51.100.9', '198.51.100.9:4000', '::ffff:198.51.100.9', '[::ffff:c633:6409]:80'];
  const fours = await Promise.all([...spellings, ...spellings].map(from));
  t.is(fours.filter((a) => a.status === 200).length, 5);
});
