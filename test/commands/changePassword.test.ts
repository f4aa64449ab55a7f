/**
 * Changing a password (`commands/changePassword.ts`) through the API: the change ends every
 * session issued before it; the new password meets the policy, and a refusal says which rule; a
 * token that is not fresh needs the current password too, a reset token does not.
 */
import test from 'ava';
import { createAccessToken, createPwdResetToken } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('change_password');

const json = (body: unknown) => ({ json: body });
const newPassword = (p: string) => json({ password: p, password_confirm: p });

test.serial('a password change ends every session: access and refresh tokens issued before are refused', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const pair = (await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).body;
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'before' }, token: pair.access_token }))
      .status,
    200,
  );

  const changed = await api.request('POST', `/user/${user.username}/password/`, {
    ...newPassword('sessions-all-end'),
    token: pair.access_token,
  });
  t.is(changed.status, 200);
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { json: { bio: 'after' }, token: pair.access_token }))
      .status,
    401,
  );
  t.is((await api.request('POST', '/refresh_token', json({ refresh_token: pair.refresh_token }))).status, 401);
  const fresh = await api.request('POST', '/token', {
    form: { username: user.username, password: 'sessions-all-end' },
  });
  t.is(
    (
      await api.request('PATCH', `/user/${user.username}/`, {
        json: { bio: 'new session' },
        token: fresh.body.access_token,
      })
    ).status,
    200,
  );
});

for (const [rule, password, message] of [
  ['too short', 'short1', /at least 8 characters/],
  ['too long', 'x'.repeat(129), /at most 128 characters/],
  ['the username', 'policy-person', /must not be the username/],
  ['the e-mail', 'Policy.Person@dm.com', /must not be the e-mail address/],
  ['common', 'Baseball', /too common/],
  ['common, with digits', 'qwerty123', /too common/],
] as const) {
  test.serial(`password policy: ${rule} is refused with 422 saying which rule`, async (t) => {
    const config = testConfig(tdb.url);
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    const user =
      (await tdb.db('users').where({ username: 'policy-person' }).first()) ??
      (await makeUser(tdb.db, { username: 'policy-person', email: 'policy.person@dm.com' }));
    const token = createAccessToken(config.security, { sub: user.username, ver: user.token_version, fresh: true });
    const res = await api.request('POST', `/user/${user.username}/password/`, { ...newPassword(password), token });
    t.is(res.status, 422);
    t.regex(res.body.detail[0].msg, message);
    t.deepEqual(res.body.detail[0].loc, ['body', 'password']);
  });
}

test.serial('a stale token cannot change the password without the current one', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const change = (token: string, extra: Record<string, string> = {}, username = user.username) =>
    api.request('POST', `/user/${username}/password/`, {
      token,
      json: { password: 'new-password-42', password_confirm: 'new-password-42', ...extra },
    });

  const pair = (await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).body;
  const refreshed = (await api.request('POST', '/refresh_token', { json: { refresh_token: pair.refresh_token } })).body;
  const missing = await change(refreshed.access_token);
  t.is(missing.status, 422);
  t.deepEqual(missing.body.detail[0].loc, ['body', 'current_password']);
  const wrong = await change(refreshed.access_token, { current_password: 'not-my-password' });
  t.is(wrong.status, 403);
  t.deepEqual(wrong.body, { detail: 'Current password is incorrect' });
  // Issued by /token, but longer ago than FRESH_TOKEN_MINUTES (15).
  const old = createAccessToken(config.security, {
    sub: user.username,
    ver: user.token_version,
    fresh: true,
    iat: Math.floor(Date.now() / 1000) - 16 * 60,
  });
  t.is((await change(old)).status, 422);
  t.is(
    (await change(refreshed.access_token, { current_password: PASSWORD })).status,
    200,
    'with the current password it works',
  );

  // A fresh token from /token needs nothing more, as before.
  const other = await makeUser(tdb.db);
  const fresh = (await api.request('POST', '/token', { form: { username: other.username, password: PASSWORD } })).body
    .access_token;
  t.is((await change(fresh, {}, other.username)).status, 200);

  // A superuser: fresh token works for anyone; a stale one needs the superuser's own password.
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const third = await makeUser(tdb.db);
  const bossFresh = (await api.request('POST', '/token', { form: { username: boss.username, password: PASSWORD } }))
    .body;
  t.is((await change(bossFresh.access_token, {}, third.username)).status, 200);
  const bossStale = (await api.request('POST', '/refresh_token', { json: { refresh_token: bossFresh.refresh_token } }))
    .body.access_token;
  const fourth = await makeUser(tdb.db);
  t.is((await change(bossStale, {}, fourth.username)).status, 422);
  t.is((await change(bossStale, { current_password: PASSWORD }, fourth.username)).status, 200);

  // The reset-token path is unchanged: no bearer, no current password.
  const fifth = await makeUser(tdb.db);
  const resetToken = createPwdResetToken(config.security, fifth);
  const reset = await api.request('POST', `/user/${fifth.username}/password/?pwd_reset_token=${resetToken}`, {
    json: { password: 'new-password-42', password_confirm: 'new-password-42' },
  });
  t.is(reset.status, 200);
});
