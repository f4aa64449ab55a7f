/**
 * The tokens (`auth/tokens.ts`): a reset token is bound to the password and the newest reset
 * e-mail, and is no bearer token; no token is accepted unsigned, mis-signed or of the wrong kind;
 * a key rotation keeps the tokens signed with a previous key good until that key is dropped.
 */
import test from 'ava';
import jwt from 'jsonwebtoken';
import { createAccessToken, createPwdResetToken, passwordFingerprint } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('tokens');
let api: Api;
let config: ReturnType<typeof testConfig>;
test.before(async () => {
  config = testConfig(tdb.url);
  api = await startApi(config);
  tdb.teardown(() => api.service.stop());
});

const body = { password: 'a-fine-new-password', password_confirm: 'a-fine-new-password' };
const reset = (username: string, token: string) =>
  api.request('POST', `/user/${username}/password/?pwd_reset_token=${encodeURIComponent(token)}`, { json: body });
const now = () => Math.floor(Date.now() / 1000);
const json = (body: unknown) => ({ json: body });
const newPassword = (p: string) => json({ password: p, password_confirm: p });

test('a fresh reset token changes the password once', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  t.is((await reset(user.username, token)).status, 200);
  const second = await reset(user.username, token);
  t.is(second.status, 403);
});

test('an expired reset token is refused', async (t) => {
  const user = await makeUser(tdb.db);
  const pwd = passwordFingerprint(config.security.SECRET_KEY, user);
  const token = createAccessToken(config.security, { sub: user.username, pwd, iat: now() - 120 }, 60, 'pwd_reset');
  t.is((await reset(user.username, token)).status, 403);
});

test('a reset token with a tampered signature is refused', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  const [header, payload, signature] = token.split('.');
  const flipped = signature!.slice(0, -2) + (signature!.endsWith('AA') ? 'BB' : 'AA');
  t.is((await reset(user.username, `${header}.${payload}.${flipped}`)).status, 403);
  const forged = jwt.sign(jwt.decode(token) as object, 'some-other-secret-that-is-long-enough!!', {
    algorithm: 'HS256',
  });
  t.is((await reset(user.username, forged)).status, 403);
});

test('a token with alg none is refused, as reset token and as bearer', async (t) => {
  const user = await makeUser(tdb.db);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = { sub: user.username, iat: now(), exp: now() + 600 };
  const none = (scope: string) =>
    `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, scope, pwd: passwordFingerprint(config.security.SECRET_KEY, user) })}.`;
  t.is((await reset(user.username, none('pwd_reset'))).status, 403);
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'x' }, token: none('access_token') })).status,
    401,
  );
});

test('an access token resets no password', async (t) => {
  const user = await makeUser(tdb.db);
  const access = createAccessToken(config.security, { sub: user.username });
  t.is((await reset(user.username, access)).status, 403);
});

test('a refresh token resets no password and is no bearer token', async (t) => {
  const user = await makeUser(tdb.db);
  const refresh = createAccessToken(config.security, { sub: user.username }, undefined, 'refresh_token');
  t.is((await reset(user.username, refresh)).status, 403);
  t.is((await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'x' }, token: refresh })).status, 401);
});

test('a reset token cannot be used as a bearer token', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  const res = await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'hacked' }, token });
  t.is(res.status, 401);
  t.is(res.headers.get('www-authenticate'), 'Bearer');
  const viaBearer = await api.request('POST', `/user/${user.username}/password/`, { json: body, token });
  t.is(viaBearer.status, 403);
  const refresh = await api.request('POST', '/refresh_token', { json: { refresh_token: token } });
  t.is(refresh.status, 401);
});

test("another user's reset token is refused", async (t) => {
  const victim = await makeUser(tdb.db);
  const attacker = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, attacker);
  t.is((await reset(victim.username, token)).status, 403);
  t.is((await reset(attacker.username, token)).status, 200);
});

test('a reset token dies when the password changes another way', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  const login = await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  const own = await api.request('POST', `/user/${user.username}/password/`, {
    json: { password: 'changed-by-owner', password_confirm: 'changed-by-owner' },
    token: login.body.access_token,
  });
  t.is(own.status, 200);
  t.is((await reset(user.username, token)).status, 403);
});

test('the same reset token used twice at once succeeds only once', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  const results = await Promise.all(Array.from({ length: 5 }, () => reset(user.username, token)));
  t.deepEqual(results.map((r) => r.status).sort(), [200, 403, 403, 403, 403]);
});

test('a token signed with the right key but without the password binding is refused', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createAccessToken(config.security, { sub: user.username }, undefined, 'pwd_reset');
  t.is((await reset(user.username, token)).status, 403);
  const stale = createAccessToken(
    config.security,
    {
      sub: user.username,
      pwd: passwordFingerprint(config.security.SECRET_KEY, { password_hash: 'scrypt$old', reset_nonce: null }),
    },
    undefined,
    'pwd_reset',
  );
  t.is((await reset(user.username, stale)).status, 403);
});

test.serial('only the newest reset link works', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  await api.request('POST', '/user/pwd_reset_token/', json({ email: user.email }));
  await dispatch(tdb.db, config);
  await api.request('POST', '/user/pwd_reset_token/', json({ email: user.email }));
  await dispatch(tdb.db, config);
  const [older, newer] = (await readEmailLog(config))
    .filter((m) => m.to === user.email)
    .map((m) => tokenFromText(m.message));
  t.not(older, newer);
  const use = (token: string) =>
    api.request('POST', `/user/${user.username}/password/?pwd_reset_token=${token}`, newPassword('newest-link-only'));
  t.is((await use(older!)).status, 403);
  t.is((await use(newer!)).status, 200);
});

test.serial('key rotation: tokens signed with a previous key still verify; new ones use the new key', async (t) => {
  const oldConfig = testConfig(tdb.url, { DUNDIE_SECURITY__SECRET_KEY: 'the-old-key-that-is-at-least-32-bytes-long' });
  const user = await makeUser(tdb.db);
  const oldToken = createAccessToken(oldConfig.security, { sub: user.username });
  const rotated = testConfig(tdb.url, {
    DUNDIE_SECURITY__SECRET_KEY: 'the-new-key-that-is-at-least-32-bytes-long',
    DUNDIE_SECURITY__PREVIOUS_SECRET_KEYS: 'the-old-key-that-is-at-least-32-bytes-long',
  });
  const api = await startApi(rotated);
  t.teardown(() => api.service.stop());
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'rotated' }, token: oldToken })).status,
    200,
  );
  const fresh = await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  const [, payload] = fresh.body.access_token.split('.');
  t.truthy(payload);
  const retired = await startApi(
    testConfig(tdb.url, { DUNDIE_SECURITY__SECRET_KEY: 'the-new-key-that-is-at-least-32-bytes-long' }),
  );
  t.teardown(() => retired.service.stop());
  t.is(
    (await retired.request('PATCH', `/user/${user.username}/`, { json: { bio: 'x' }, token: oldToken })).status,
    401,
    'dropped from the list, the old key verifies nothing',
  );
  t.is(
    (await retired.request('PATCH', `/user/${user.username}/`, { json: { bio: 'x' }, token: fresh.body.access_token }))
      .status,
    200,
    'signed with the new key',
  );
});
