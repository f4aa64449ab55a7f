/**
 * Who the client is, for every limit (`web/client.ts`): X-Forwarded-For counts only with
 * TRUST_PROXY, and then only the entry PROXY_HOPS from the right, the one our nearest proxy
 * appended, never what the client wrote itself.
 */
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('client_address', { clean: ['outbox', 'rate_limiter'] });

test.serial('X-Forwarded-For is ignored unless TRUST_PROXY is on', async (t) => {
  const limited = { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1' };
  const plain = await startApi(testConfig(tdb.url, limited));
  t.teardown(() => plain.service.stop());
  const ask = (api: typeof plain, ip: string) =>
    api.request('POST', '/user/pwd_reset_token/', { json: { email: 'x@dm.com' }, headers: { 'X-Forwarded-For': ip } });
  t.is((await ask(plain, '198.51.100.1')).status, 200);
  t.is((await ask(plain, '198.51.100.2')).status, 429, 'a forged header does not buy a new budget');
  await tdb.db('rate_limiter').del();
  const proxied = await startApi(testConfig(tdb.url, { ...limited, DUNDIE_SECURITY__TRUST_PROXY: 'true' }));
  t.teardown(() => proxied.service.stop());
  t.is((await ask(proxied, '198.51.100.1')).status, 200);
  t.is((await ask(proxied, '198.51.100.2')).status, 200, 'behind a trusted proxy each client has its own');
  t.is((await ask(proxied, '198.51.100.2')).status, 429);
});

const resetRequest = { json: { email: 'someone@dm.com' } };

test.serial('TRUST_PROXY: the client is the entry PROXY_HOPS from the right, not the one it wrote', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '2',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  // The client writes its own X-Forwarded-For; our one proxy appends the address it saw.
  const statuses = [];
  for (const spoofed of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
    const res = await api.request('POST', '/user/pwd_reset_token/', {
      ...resetRequest,
      headers: { 'X-Forwarded-For': `${spoofed}, 198.51.100.4` },
    });
    statuses.push(res.status);
  }
  t.deepEqual(statuses, [200, 200, 429]);
  // Another real client behind the same proxy has its own budget.
  const other = await api.request('POST', '/user/pwd_reset_token/', {
    ...resetRequest,
    headers: { 'X-Forwarded-For': '10.0.0.1, 198.51.100.5' },
  });
  t.is(other.status, 200);
});

test.serial('PROXY_HOPS=2: two proxies append; entries the client wrote are still ignored', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__PROXY_HOPS: '2',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '1',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const send = (xff: string) =>
    api.request('POST', '/user/pwd_reset_token/', { ...resetRequest, headers: { 'X-Forwarded-For': xff } });
  t.is((await send('1.1.1.1, 203.0.113.9, 10.1.1.1')).status, 200);
  t.is((await send('2.2.2.2, 203.0.113.9, 10.1.1.2')).status, 429);
});
