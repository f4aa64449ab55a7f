/**
 * What an unauthenticated stranger can send that the happy paths never do: NUL bytes in paths,
 * usernames longer than a limit's key, paths in another case. Each gets a clear 4xx, never a 500,
 * and the answers that carry tokens or documentation are protected as RFC 6749 and browsers ask.
 */
import test from 'ava';
import { createAccessToken } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('odd_input');
let api: Api;
let config: ReturnType<typeof testConfig>;
test.before(async () => {
  // The login throttle on: its keys are built from what the stranger sends.
  config = testConfig(tdb.url, {
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '10',
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_USERNAME: '100',
  });
  api = await startApi(config);
  tdb.teardown(() => api.service.stop());
});

test('a NUL byte in a username path is 404, not a database error', async (t) => {
  t.is((await api.request('GET', '/user/%00/')).status, 404);
  const change = await api.request('POST', '/user/a%00b/password/', {
    json: { password: 'a-long-new-password', password_confirm: 'a-long-new-password' },
  });
  t.is(change.status, 404);
});

test('a login whose username is 150 quotes is refused 401 like any other, and counted', async (t) => {
  const username = '"'.repeat(150);
  for (let i = 0; i < 3; i++) {
    t.is((await api.request('POST', '/token', { form: { username, password: 'x' } })).status, 401);
  }
  const [row] = await tdb.db('rate_limiter').where('key', 'like', 'login-failures-client:sha256:%');
  t.is(row?.points, 3);
});

test('paths are matched in their own case: /RESET_PASSWORD is 404 JSON and sets no cookie', async (t) => {
  for (const path of ['/RESET_PASSWORD', '/Reset_Password/sent', '/Reset_Password?pwd_reset_token=abc', '/TOKEN']) {
    const res = await api.request(path === '/TOKEN' ? 'POST' : 'GET', path);
    t.is(res.status, 404, path);
    t.deepEqual(res.body, { detail: 'Not Found' }, path);
    t.is(res.headers.get('set-cookie'), null, path);
  }
});

test('answers carrying tokens are never stored by a cache (no-store)', async (t) => {
  const user = await makeUser(tdb.db);
  const login = await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  t.is(login.headers.get('cache-control'), 'no-store');
  t.is(login.headers.get('pragma'), 'no-cache');
  const refresh = await api.request('POST', '/refresh_token', { json: { refresh_token: login.body.refresh_token } });
  t.is(refresh.status, 200);
  t.is(refresh.headers.get('cache-control'), 'no-store');
});

test('the API docs page has a content security policy and may not be framed', async (t) => {
  const res = await api.request('GET', '/docs');
  t.regex(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*frame-ancestors 'none'/);
  t.is(res.headers.get('x-frame-options'), 'DENY');
});

test('an avatar must be an http(s) URL: javascript: and data: are refused 422', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createAccessToken(config.security, { sub: user.username, fresh: true });
  for (const avatar of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'a.png', 'ftp://dm.com/a']) {
    const res = await api.request('PATCH', `/user/${user.username}/`, { token, json: { avatar } });
    t.is(res.status, 422, avatar);
  }
  const ok = await api.request('PATCH', `/user/${user.username}/`, { token, json: { avatar: 'https://dm.com/a.png' } });
  t.is(ok.status, 200);
});
