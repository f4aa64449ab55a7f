/** Issue 13, item 12: a login flood is refused at once instead of starving the service. */
import test from 'ava';
import { testConfig } from './helpers/config.ts';
import { useTestDatabase } from './helpers/db.ts';
import { makeUser, PASSWORD } from './helpers/factories.ts';
import { startApi } from './helpers/service.ts';

const tdb = useTestDatabase('hashslots');

test.serial(
  '12. scrypt is no denial of service: past a small queue, logins get 503 with Retry-After at once',
  async (t) => {
    const config = testConfig(tdb.url, { DUNDIE_SECURITY__HASH_CONCURRENCY: '1', DUNDIE_SECURITY__HASH_QUEUE: '2' });
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    const user = await makeUser(tdb.db);
    const flood = Array.from({ length: 30 }, async (_, i) => {
      const started = performance.now();
      const res = await api.request('POST', '/token', {
        form: { username: i % 2 ? user.username : 'nobody', password: `guess-${i}` },
      });
      return { ...res, ms: performance.now() - started };
    });
    // While the flood runs, a request that needs no hash is answered promptly.
    const started = performance.now();
    t.is((await api.request('GET', '/user/')).status, 200);
    const listMs = performance.now() - started;
    const answers = await Promise.all(flood);
    const refused = answers.filter((r) => r.status === 503);
    const checked = answers.filter((r) => r.status === 401);
    t.is(refused.length + checked.length, 30);
    t.true(checked.length >= 3 && checked.length <= 10, `${checked.length} checked`);
    t.true(refused.length >= 20, `${refused.length} refused`);
    for (const r of refused) {
      t.is(r.headers.get('retry-after'), '1');
      t.deepEqual(r.body, { detail: 'The server is busy, try again shortly' });
    }
    const slowestRefusal = Math.max(...refused.map((r) => r.ms));
    const slowestCheck = Math.max(...checked.map((r) => r.ms));
    t.true(
      slowestRefusal < slowestCheck,
      `refusals within ${Math.round(slowestRefusal)} ms, checks took up to ${Math.round(slowestCheck)} ms`,
    );
    t.true(listMs < slowestCheck, `GET /user/ took ${Math.round(listMs)} ms`);
    // Once the flood is over, the real user logs in.
    t.is((await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).status, 200);
  },
);
