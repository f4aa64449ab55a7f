/** Issue 13: the second security pass. Each test is named after the item it pins. */
import test from 'ava';
import { testConfig } from './helpers/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { startApi } from './helpers/service.ts';

let tdb: TestDatabase;
test.before(async () => {
  tdb = await createTestDatabase('hardening');
});
test.after.always(async () => {
  await tdb?.drop();
});

const resetRequest = { json: { email: 'someone@dm.com' } };

test.serial('4. TRUST_PROXY: the client is the entry PROXY_HOPS from the right, not the one it wrote', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_SECURITY__TRUST_PROXY: 'true', DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '2' });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  // The client writes its own X-Forwarded-For; our one proxy appends the address it saw.
  const statuses = [];
  for (const spoofed of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
    const res = await api.request('POST', '/user/pwd_reset_token/', { ...resetRequest, headers: { 'X-Forwarded-For': `${spoofed}, 198.51.100.4` } });
    statuses.push(res.status);
  }
  t.deepEqual(statuses, [200, 200, 429]);
  // Another real client behind the same proxy has its own budget.
  const other = await api.request('POST', '/user/pwd_reset_token/', { ...resetRequest, headers: { 'X-Forwarded-For': '10.0.0.1, 198.51.100.5' } });
  t.is(other.status, 200);
});

test.serial('4. PROXY_HOPS=2: two proxies append; entries the client wrote are still ignored', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__PROXY_HOPS: '2',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const send = (xff: string) => api.request('POST', '/user/pwd_reset_token/', { ...resetRequest, headers: { 'X-Forwarded-For': xff } });
  t.is((await send('1.1.1.1, 203.0.113.9, 10.1.1.1')).status, 200);
  t.is((await send('2.2.2.2, 203.0.113.9, 10.1.1.2')).status, 429);
});
