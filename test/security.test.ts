import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createAccessToken } from '../src/auth/tokens.ts';
import { loadConfig } from '../src/config.ts';
import { PWD_RESET_MESSAGE } from '../src/commands/requestPwdReset.ts';
import { takeResetSlotsAndRenewNonces } from '../src/users/resetSlots.ts';
import { testConfig } from './helpers/config.ts';
import { useTestDatabase } from './helpers/db.ts';
import { makeUser, PASSWORD } from './helpers/factories.ts';
import { dispatch, readEmailLog, tokenFromText } from './helpers/flow.ts';
import { startApi } from './helpers/service.ts';
import { smtpEnv, startSmtpSink } from './helpers/smtp.ts';

const tdb = useTestDatabase('security', { clean: ['outbox', 'rate_limiter', 'pwd_reset_throttle'] });

const json = (body: unknown) => ({ json: body });
const newPassword = (p: string) => json({ password: p, password_confirm: p });

test.serial('one reset e-mail per address per cooldown, unknown addresses too; extras end throttled', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60' });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  for (const email of [user.email, user.email.toUpperCase(), user.email, 'ghost@dm.com', 'ghost@dm.com']) {
    const res = await api.request('POST', '/user/pwd_reset_token/', json({ email }));
    t.is(res.status, 200);
    t.deepEqual(res.body, { message: PWD_RESET_MESSAGE });
  }
  await dispatch(tdb.db, config);
  const rows = await tdb.db('outbox').orderBy('id').select('status', 'last_error');
  t.deepEqual(rows, [
    { status: 'sent', last_error: null },
    { status: 'skipped', last_error: 'throttled' },
    { status: 'skipped', last_error: 'throttled' },
    { status: 'skipped', last_error: 'no user with this email' },
    { status: 'skipped', last_error: 'throttled' },
  ]);
  t.is((await readEmailLog(config)).filter((m) => m.to === user.email).length, 1);
});

test.serial('a cooldown of 0 throttles nothing, not even a transaction older than the last slot', async (t) => {
  // now() is a transaction's start: a row worked in an older transaction than the one that took
  // the address's last slot must still get its own when there is no cooldown.
  const takeSlot = async (db: typeof tdb.db, outboxId: string, cooldown: number) =>
    (await takeResetSlotsAndRenewNonces(db, cooldown, [{ email: 'race@dm.com', outboxId, nonce: 'n' }]))[0]!.allowed;
  const older = await tdb.db.transaction();
  t.teardown(() => older.rollback().catch(() => {}));
  await older.raw('SELECT now()');
  await new Promise((r) => setTimeout(r, 20));
  t.true(await takeSlot(tdb.db, '1', 0));
  t.true(await takeSlot(older, '2', 0));
  await older.commit();
  t.false(await takeSlot(tdb.db, '3', 60), 'a real cooldown still holds');
});

test.serial(
  'the reset limit is shared by two instances: 429 with Retry-After, same detail for any address',
  async (t) => {
    const config = testConfig(tdb.url, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '3' });
    const [a, b] = [await startApi(config), await startApi(config)];
    t.teardown(() => Promise.all([a.service.stop(), b.service.stop()]));
    const answers = [];
    for (const [api, email] of [
      [a, 'one@dm.com'],
      [b, 'two@dm.com'],
      [a, 'three@dm.com'],
      [b, 'four@dm.com'],
      [a, 'five@dm.com'],
    ] as const) {
      answers.push(await api.request('POST', '/user/pwd_reset_token/', json({ email })));
    }
    t.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 429, 429],
    );
    t.deepEqual(answers[3]!.body, answers[4]!.body);
    t.deepEqual(answers[3]!.body, { detail: 'Too many requests, try again later' });
    const retryAfter = Number(answers[3]!.headers.get('retry-after'));
    t.true(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    t.is(Number((await tdb.db('outbox').count({ n: '*' }))[0]!.n), 3, 'refused requests queue nothing');
  },
);

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

test.serial(
  '"your password was changed" goes out over SMTP with text and escaped HTML, no token, what to do',
  async (t) => {
    const smtp = await startSmtpSink();
    t.teardown(() => smtp.close());
    const config = testConfig(tdb.url, {
      ...smtpEnv(smtp),
      DUNDIE_SECURITY__PWD_RESET_URL: 'https://dm.com/reset?from=mail&x="<b>"',
      DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60',
    });
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    const user = await makeUser(tdb.db, { name: 'Creed Bratton', username: '<script>creed</script>' });
    await api.request('POST', '/user/pwd_reset_token/', json({ email: user.email }));
    await dispatch(tdb.db, config);
    t.like(await tdb.db('outbox').first(), { status: 'sent', last_error: null });
    const [reset] = await smtp.waitFor(1);
    t.truthy(reset!.html, 'the reset e-mail has an HTML part');
    t.regex(
      String(reset!.html),
      /href="https:\/\/dm\.com\/reset\?from=mail&amp;x=(&quot;|&#34;)&lt;b&gt;(&quot;|&#34;)\?pwd_reset_token=/,
    );
    const token = tokenFromText(reset!.text ?? '');

    const changed = await api.request(
      'POST',
      `/user/${encodeURIComponent(user.username)}/password/?pwd_reset_token=${token}`,
      newPassword('creed-thoughts-2'),
    );
    t.is(changed.status, 200);
    const row = await tdb.db('outbox').where({ kind: 'pwd_changed_email' }).first();
    t.truthy(row, 'queued with the change');
    await dispatch(tdb.db, config);
    const [, notice] = await smtp.waitFor(2);
    t.is(notice!.subject, 'Your Dundie password was changed');
    t.deepEqual(Array.isArray(notice!.to) ? [] : notice!.to?.value.map((a) => a.address), [user.email]);
    t.regex(notice!.text ?? '', /If you did not/);
    t.notRegex(notice!.text ?? '', /pwd_reset_token|eyJ/);
    t.regex(String(notice!.html), /&lt;script&gt;creed&lt;\/script&gt;/);
    t.notRegex(String(notice!.html), /<script>/);
    t.is(
      (await tdb.db('outbox').where({ kind: 'pwd_changed_email' }).first()).status,
      'sent',
      'the cooldown does not hold it back',
    );
  },
);

test.serial('the change notice goes to email.log in debug mode', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const token = createAccessToken(config.security, { sub: user.username, fresh: true });
  await api.request('POST', `/user/${user.username}/password/`, { ...newPassword('notice-in-the-log'), token });
  await dispatch(tdb.db, config);
  const notice = (await readEmailLog(config)).find(
    (m) => m.to === user.email && m.message.includes('Subject: Your Dundie password was changed'),
  );
  t.truthy(notice);
  t.regex(notice!.message, /If you did not/);
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

test.serial('password policy applies to new users too', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const token = createAccessToken(config.security, { sub: boss.username });
  const res = await api.request('POST', '/user/', {
    token,
    json: { name: 'Ryan Howard', email: 'ryan@dm.com', dept: 'temp', password: 'password1' },
  });
  t.is(res.status, 422);
  t.regex(res.body.detail[0].msg, /too common/);
});

test.serial('rotation: tokens signed with a previous key still verify; new ones use the new key', async (t) => {
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

test('outside development the service refuses a missing or short SECRET_KEY', (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db' }), {
    message: /SECRET_KEY is required/,
  });
  t.throws(
    () =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://h/db',
        DUNDIE_SECURITY__SECRET_KEY: 'x'.repeat(31),
      }),
    { message: /at least 32 bytes/ },
  );
  t.notThrows(() =>
    loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://h/db',
      DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64url'),
    }),
  );
});
