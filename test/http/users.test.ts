import test from 'ava';
import { createAccessToken } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('users');
let api: Api;
let config: ReturnType<typeof testConfig>;
let bossToken: string;
test.before(async () => {
  config = testConfig(tdb.url);
  api = await startApi(config);
  tdb.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { name: 'Boss Man', dept: 'management' });
  bossToken = createAccessToken(config.security, { sub: boss.username, fresh: true });
});

const login = async (username: string, password = PASSWORD) =>
  api.request('POST', '/token', { form: { username, password } });

test('login with a form gives an access and a refresh token', async (t) => {
  const user = await makeUser(tdb.db);
  const res = await login(user.username);
  t.is(res.status, 200);
  t.is(res.body.token_type, 'bearer');
  t.is(typeof res.body.access_token, 'string');
  t.is(typeof res.body.refresh_token, 'string');
});

test('login with JSON works too', async (t) => {
  const user = await makeUser(tdb.db);
  const res = await api.request('POST', '/token', { json: { username: user.username, password: PASSWORD } });
  t.is(res.status, 200);
});

test('a wrong password or an unknown user is 401 with WWW-Authenticate', async (t) => {
  const user = await makeUser(tdb.db);
  for (const res of [await login(user.username, 'wrong-password'), await login('nobody-at-all')]) {
    t.is(res.status, 401);
    t.deepEqual(res.body, { detail: 'Incorrect username or password' });
    t.is(res.headers.get('www-authenticate'), 'Bearer');
  }
});

test('a refresh token gives a new pair; an access token does not', async (t) => {
  const user = await makeUser(tdb.db);
  const pair = (await login(user.username)).body;
  const refreshed = await api.request('POST', '/refresh_token/', { json: { refresh_token: pair.refresh_token } });
  t.is(refreshed.status, 200);
  t.truthy(refreshed.body.access_token);
  const withAccess = await api.request('POST', '/refresh_token', { json: { refresh_token: pair.access_token } });
  t.is(withAccess.status, 401);
  const garbage = await api.request('POST', '/refresh_token', { json: { refresh_token: 'not.a.token' } });
  t.is(garbage.status, 401);
});

test('the user list and a user show only public fields', async (t) => {
  const user = await makeUser(tdb.db, { name: 'Dwight Schrute', bio: 'Beets', avatar: 'https://dm.com/d.png' });
  const list = await api.request('GET', '/user/');
  t.is(list.status, 200);
  t.true(list.body.some((u: { username: string }) => u.username === 'dwight-schrute'));
  const one = await api.request('GET', `/user/${user.username}`);
  t.deepEqual(one.body, {
    name: 'Dwight Schrute',
    username: 'dwight-schrute',
    dept: 'sales',
    avatar: 'https://dm.com/d.png',
    bio: 'Beets',
    currency: 'USD',
  });
  t.is((await api.request('GET', '/user/no-such-user/')).body.detail, 'User not found');
  t.is((await api.request('GET', '/user/no-such-user/')).status, 404);
});

test('a superuser creates users; the username defaults from the name', async (t) => {
  const res = await api.request('POST', '/user/', {
    token: bossToken,
    json: { name: 'Jim Halpert', email: 'jim@dm.com', dept: 'sales', password: 'jim-password-1' },
  });
  t.is(res.status, 201);
  t.deepEqual(res.body, {
    name: 'Jim Halpert',
    username: 'jim-halpert',
    dept: 'sales',
    avatar: null,
    bio: null,
    currency: 'USD',
  });
  t.is((await login('jim-halpert', 'jim-password-1')).status, 200);
});

test('duplicate username and case-insensitive duplicate e-mail are 409', async (t) => {
  await makeUser(tdb.db, { name: 'Angela Martin', email: 'angela@dm.com' });
  const sameName = await api.request('POST', '/user', {
    token: bossToken,
    json: { name: 'Angela Martin', email: 'other@dm.com', dept: 'accounting', password: 'cats-cats-cats' },
  });
  t.is(sameName.status, 409);
  t.is(sameName.body.detail, 'Username already taken');
  const sameEmail = await api.request('POST', '/user', {
    token: bossToken,
    json: { name: 'Angela Two', email: 'ANGELA@dm.com', dept: 'accounting', password: 'cats-cats-cats' },
  });
  t.is(sameEmail.status, 409);
  t.is(sameEmail.body.detail, 'Email already registered');
});

test('creating users needs a superuser: 401 without a token, 403 for others', async (t) => {
  const json = { name: 'Kevin Malone', email: 'kevin@dm.com', dept: 'accounting', password: 'chili-chili' };
  t.is((await api.request('POST', '/user/', { json })).status, 401);
  const user = await makeUser(tdb.db);
  const token = (await login(user.username)).body.access_token;
  t.is((await api.request('POST', '/user/', { json, token })).status, 403);
});

test('a user updates their own profile; another user may not; a superuser may', async (t) => {
  const owner = await makeUser(tdb.db);
  const other = await makeUser(tdb.db);
  const ownerToken = (await login(owner.username)).body.access_token;
  const otherToken = (await login(other.username)).body.access_token;
  const own = await api.request('PATCH', `/user/${owner.username}/`, {
    token: ownerToken,
    json: { bio: 'Hello', avatar: 'https://dm.com/a.png' },
  });
  t.is(own.status, 200);
  t.is(own.body.bio, 'Hello');
  const theirs = await api.request('PATCH', `/user/${owner.username}/`, { token: otherToken, json: { bio: 'Hacked' } });
  t.is(theirs.status, 403);
  t.is(theirs.body.detail, 'You can only update your own profile');
  const boss = await api.request('PATCH', `/user/${owner.username}`, { token: bossToken, json: { bio: null } });
  t.is(boss.status, 200);
  t.is(boss.body.bio, null);
  t.is(boss.body.avatar, 'https://dm.com/a.png');
});

test('password change: mismatch is 400, others 403, unknown user 404', async (t) => {
  const owner = await makeUser(tdb.db);
  const other = await makeUser(tdb.db);
  const ownerToken = (await login(owner.username)).body.access_token;
  const otherToken = (await login(other.username)).body.access_token;
  const mismatch = await api.request('POST', `/user/${owner.username}/password/`, {
    token: ownerToken,
    json: { password: 'quiet-harbor-7', password_confirm: 'abcdefgh2' },
  });
  t.is(mismatch.status, 400);
  t.is(mismatch.body.detail, 'Passwords do not match');
  const json = { password: 'quiet-harbor-7', password_confirm: 'quiet-harbor-7' };
  t.is((await api.request('POST', `/user/${owner.username}/password/`, { token: otherToken, json })).status, 403);
  t.is((await api.request('POST', `/user/${owner.username}/password/`, { json })).status, 403);
  t.is((await api.request('POST', '/user/nobody-here/password/', { token: ownerToken, json })).status, 404);
  t.is((await api.request('POST', `/user/${owner.username}/password/`, { token: bossToken, json })).status, 200);
  t.is((await login(owner.username, 'quiet-harbor-7')).status, 200);
});

test('a too short password is refused with 422 saying why', async (t) => {
  const user = await makeUser(tdb.db);
  const token = (await login(user.username)).body.access_token;
  const res = await api.request('POST', `/user/${user.username}/password/`, {
    token,
    json: { password: 'short', password_confirm: 'short' },
  });
  t.is(res.status, 422);
  t.regex(res.body.detail[0].msg, /at least 8 characters/);
});
