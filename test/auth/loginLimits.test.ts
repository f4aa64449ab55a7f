/**
 * The login limits (`auth/limits/`): requests per client, failures per username and per client
 * and username, which no burst of parallel requests can outrun; a successful login clears its
 * client's failures, and failures slow that client down progressively, no one else.
 */
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('login_limits', { clean: ['rate_limiter'] });

test.serial('login: per-client limit, and failures per username stop password guessing', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '3' });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const login = (password: string) => api.request('POST', '/token', { form: { username: user.username, password } });
  t.is((await login(PASSWORD)).status, 200);
  for (let i = 0; i < 3; i++) t.is((await login('wrong-guess-' + i)).status, 401);
  const locked = await login(PASSWORD);
  t.is(locked.status, 429, 'even the right password waits out the window');
  t.truthy(locked.headers.get('retry-after'));
  const unknown = api.request('POST', '/token', { form: { username: 'nobody-here', password: 'x-x-x-x-x' } });
  t.is((await unknown).status, 401);

  const perClient = await startApi(testConfig(tdb.url, { DUNDIE_SECURITY__RATE_LIMIT_LOGIN_PER_MINUTE: '2' }));
  t.teardown(() => perClient.service.stop());
  const statuses = [];
  for (let i = 0; i < 3; i++)
    statuses.push((await perClient.request('POST', '/token', { form: { username: 'a', password: 'b' } })).status);
  t.deepEqual(statuses, [401, 401, 429]);
});

const loginFrom = (api: Awaited<ReturnType<typeof startApi>>, client: string, username: string, password: string) =>
  api.request('POST', '/token', { form: { username, password }, headers: { 'X-Forwarded-For': client } });
const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {});

test.serial('the login-failure limit cannot be raced: 60 parallel wrong passwords, 10 checked', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '10',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '10',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  // One client, then many clients (the per-username ceiling): neither count can be outrun.
  const oneClient = await Promise.all(
    Array.from({ length: 60 }, (_, i) => loginFrom(api, '198.51.100.20', user.username, `wrong-${i}`)),
  );
  t.deepEqual(tally(oneClient.map((r) => r.status)), { 401: 10, 429: 50 });
  const other = await makeUser(tdb.db);
  const manyClients = await Promise.all(
    Array.from({ length: 60 }, (_, i) => loginFrom(api, `198.51.100.${100 + i}`, other.username, `wrong-${i}`)),
  );
  t.deepEqual(tally(manyClients.map((r) => r.status)), { 401: 10, 429: 50 });
  t.truthy(manyClients.find((r) => r.status === 429)!.headers.get('retry-after'));
});

test.serial("a successful login clears its client's failure count", async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '3',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const client = '198.51.100.30';
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2; i++) t.is((await loginFrom(api, client, user.username, 'wrong')).status, 401);
    t.is((await loginFrom(api, client, user.username, PASSWORD)).status, 200, `round ${round}`);
  }
  for (let i = 0; i < 3; i++) t.is((await loginFrom(api, client, user.username, 'wrong')).status, 401);
  t.is(
    (await loginFrom(api, client, user.username, PASSWORD)).status,
    429,
    'past the limit even the right password waits',
  );
});

test.serial('failed logins slow down progressively', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '10',
    DUNDIE_SECURITY__LOGIN_FAILURE_DELAY_MS: '100',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const took: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    t.is((await loginFrom(api, '203.0.113.77', user.username, `guess-${i}`)).status, 401);
    took.push(performance.now() - started);
  }
  // Delays before the 2nd..5th check: 100, 200, 400, 800 ms.
  t.true(took[4]! >= 800, `5th attempt took ${Math.round(took[4]!)} ms`);
  t.true(took[3]! >= 400 && took[2]! >= 200, took.map(Math.round).join(', '));
  // The attacker's 6th attempt waits 1.6 s; a login from elsewhere, sent after it, overtakes it.
  const answered: string[] = [];
  const attacker = loginFrom(api, '203.0.113.77', user.username, 'guess-5').then((r) => {
    answered.push('attacker');
    return r.status;
  });
  const other = loginFrom(api, '198.51.100.41', user.username, PASSWORD).then((r) => {
    answered.push('other client');
    return r.status;
  });
  t.deepEqual(await Promise.all([attacker, other]), [401, 200]);
  t.deepEqual(answered, ['other client', 'attacker'], 'another client is not slowed');
});
