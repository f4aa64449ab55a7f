/** A login flood is refused at once instead of starving the service: the bound on scrypt hashes in progress. */
import test from 'ava';
import { hashesInProgress } from '../../src/users/hashQueue.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('hashslots');

test.serial(
  'scrypt is no denial of service: past a small queue, logins get 503 with Retry-After at once',
  async (t) => {
    const config = testConfig(tdb.url, { DUNDIE_SECURITY__HASH_CONCURRENCY: '1', DUNDIE_SECURITY__HASH_QUEUE: '2' });
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    const user = await makeUser(tdb.db);
    // Answers numbered in the order they arrive, with the hash line as it stood then.
    let arrived = 0;
    const arrival = () => ({ at: ++arrived, line: hashesInProgress() });
    const flood = Array.from({ length: 30 }, async (_, i) => {
      const res = await api.request('POST', '/token', {
        form: { username: i % 2 ? user.username : 'nobody', password: `guess-${i}` },
      });
      return { ...res, ...arrival() };
    });
    // While the flood runs, a request that needs no hash is answered without waiting behind it.
    const list = await api.request('GET', '/user/');
    const listed = arrival();
    t.is(list.status, 200);
    const answers = await Promise.all(flood);
    const refused = answers.filter((r) => r.status === 503);
    const checked = answers.filter((r) => r.status === 401);
    t.is(refused.length + checked.length, 30);
    t.true(checked.length >= 3 && checked.length <= 10, `${checked.length} checked`);
    t.true(refused.length >= 20, `${refused.length} refused`);
    const lastCheck = Math.max(...checked.map((r) => r.at));
    for (const r of refused) {
      t.is(r.headers.get('retry-after'), '1');
      t.deepEqual(r.body, { detail: 'The server is busy, try again shortly' });
      // Refused while the line was still full of others' hashes, not after waiting for a turn.
      t.is(r.line.running, 1, `refusal #${r.at} came with a hash still running`);
      t.true(r.at < lastCheck, `refusal #${r.at} before the last check (#${lastCheck})`);
    }
    t.true(listed.at < lastCheck, `GET /user/ answered #${listed.at}, before the last check (#${lastCheck})`);
    // Once the flood is over, the real user logs in.
    t.deepEqual(hashesInProgress(), { running: 0, waiting: 0 });
    t.is((await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).status, 200);
  },
);
