/**
 * A lockout that locks out the attacker, not the owner: guessing from one address stops that
 * address alone; guessing one account from many addresses spends its shared ceiling, and the
 * owner's browser, which logged in before, keeps its own budget and still gets in (device cookies).
 */
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('lockout');
let api: Api;
test.before(async () => {
  api = await startApi(
    testConfig(tdb.url, {
      DUNDIE_SECURITY__TRUST_PROXY: 'true',
      DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '3',
      DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '10',
    }),
  );
  tdb.teardown(() => api.service.stop());
});

const login = (username: string, password: string, from: string, cookie?: string) =>
  api.request('POST', '/token', {
    form: { username, password },
    headers: { 'x-forwarded-for': from, ...(cookie ? { cookie } : {}) },
  });

const deviceCookie = (res: { headers: Headers }) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith('dundie_device='))
    ?.split(';')[0];

/** A login from `client` on an API of the test's own, started with the limits it is about. */
const loginFrom = (api: Api, client: string, username: string, password: string) =>
  api.request('POST', '/token', { form: { username, password }, headers: { 'X-Forwarded-For': client } });

test.serial('lockout is no denial of service: failures elsewhere do not lock the real user out', async (t) => {
  const config = testConfig(tdb.url, {
    DUNDIE_SECURITY__TRUST_PROXY: 'true',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '10',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '100',
    DUNDIE_SECURITY__LOGIN_FAILURE_DELAY_MS: '0',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  // Usernames are public (GET /user/): an attacker tries ten wrong passwords and more.
  for (let i = 0; i < 12; i++) await loginFrom(api, '203.0.113.66', user.username, `guess-${i}`);
  t.is((await loginFrom(api, '203.0.113.66', user.username, PASSWORD)).status, 429, 'the attacker is stopped');
  t.is((await loginFrom(api, '198.51.100.40', user.username, PASSWORD)).status, 200, 'the real user is not');
});

test.serial('a login sets an HttpOnly, SameSite=Strict device cookie for /token only', async (t) => {
  const user = await makeUser(tdb.db);
  const res = await login(user.username, PASSWORD, '198.51.100.1');
  t.is(res.status, 200);
  const set = res.headers.getSetCookie().find((c) => c.startsWith('dundie_device='))!;
  t.regex(set, /Path=\/token; Max-Age=7776000; SameSite=Strict; HttpOnly/);
});

test.serial('past the ceiling strangers and new devices are refused; the owner’s known browser gets in', async (t) => {
  const owner = await makeUser(tdb.db);
  const cookie = deviceCookie(await login(owner.username, PASSWORD, '198.51.100.2'));
  t.truthy(cookie);
  for (const from of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
    t.is((await login(owner.username, 'wrong-guess', from)).status, 401);
  }
  t.is((await login(owner.username, 'wrong-guess', '203.0.113.4')).status, 429, 'the ceiling is spent');
  t.is((await login(owner.username, PASSWORD, '198.51.100.3')).status, 429, 'a new device waits too');
  const known = await login(owner.username, PASSWORD, '198.51.100.3', cookie);
  t.is(known.status, 200, 'the browser that logged in before');
  t.truthy(deviceCookie(known), 'and its cookie is renewed');
});

test.serial('a device cookie helps only its own account, and guessing on it meets its own limit', async (t) => {
  const owner = await makeUser(tdb.db);
  const other = await makeUser(tdb.db);
  const cookie = deviceCookie(await login(owner.username, PASSWORD, '198.51.100.4'));
  for (const from of ['203.0.113.5', '203.0.113.6', '203.0.113.7']) await login(other.username, 'wrong-guess', from);
  t.is((await login(other.username, PASSWORD, '203.0.113.8', cookie)).status, 429);
  const statuses = [];
  for (let i = 0; i < 11; i++)
    statuses.push((await login(owner.username, 'wrong-guess', '203.0.113.9', cookie)).status);
  t.deepEqual(statuses, [...Array(10).fill(401), 429]);
});
