/** Issue 13: the second security pass. Each test is named after the item it pins. */
import test from 'ava';
import net from 'node:net';
import { createAccessToken, createPwdResetToken, createTokenPair } from '../src/auth/tokens.ts';
import { createMailer } from '../src/email/mailer.ts';
import { testConfig } from './helpers/config.ts';
import { makeUser, makeUsers, PASSWORD } from './helpers/factories.ts';
import { dispatch, readEmailLog } from './helpers/flow.ts';
import { cliEnv, runCli } from './helpers/process.ts';
import { useTestDatabase } from './helpers/db.ts';
import { startSmtpSink } from './helpers/smtp.ts';
import { startApi } from './helpers/service.ts';

const tdb = useTestDatabase('hardening');

test.serial(
  '1. /metrics is no account oracle: 404 on the API port, served on the metrics port for every role',
  async (t) => {
    const config = testConfig(tdb.url);
    t.is(testConfig(tdb.url, { DUNDIE_METRICS__PORT: '9464' }).metrics.HOST, '127.0.0.1', 'loopback by default');
    const api = await startApi(config);
    t.teardown(() => api.service.stop());
    await makeUser(tdb.db, { email: 'known@dm.com' });
    for (const email of ['known@dm.com', 'unknown@dm.com']) {
      t.is((await api.request('POST', '/user/pwd_reset_token/', { json: { email } })).status, 200);
    }
    await dispatch(tdb.db, config);
    for (const path of ['/metrics', '/metrics/', '/METRICS', '/metrics?x=1']) {
      const res = await api.request('GET', path);
      t.is(res.status, 404, path);
      t.false(JSON.stringify(res.body).includes('dundie_'), path);
    }
    t.is(api.service.metricsPort === api.service.port, false);
    const scraped = await fetch(`${api.metricsBase}/metrics`).then((r) => r.text());
    t.regex(scraped, /dundie_outbox_rows\{status="sent"\}/);
    t.is((await fetch(`${api.metricsBase}/health`)).status, 200);
    t.is((await fetch(`${api.metricsBase}/user/`)).status, 404, 'the metrics port serves no API');

    // A dispatcher alone serves it too.
    const { startService } = await import('../src/service.ts');
    const { createLogger } = await import('../src/log.ts');
    const dispatcher = await startService(config, createLogger(config), { api: false, dispatcher: true });
    t.teardown(() => dispatcher.stop());
    t.is(dispatcher.port, undefined);
    t.regex(
      await fetch(`http://127.0.0.1:${dispatcher.metricsPort}/metrics`).then((r) => r.text()),
      /dundie_outbox_rows/,
    );
  },
);

test('1. DUNDIE_DISPATCHER__METRICS_PORT is refused with a pointer to DUNDIE_METRICS__PORT', (t) => {
  t.throws(() => testConfig(tdb.url, { DUNDIE_DISPATCHER__METRICS_PORT: '9464' }), {
    message: /replaced by DUNDIE_METRICS__PORT/,
  });
});

const resetRequest = { json: { email: 'someone@dm.com' } };

test.serial('4. TRUST_PROXY: the client is the entry PROXY_HOPS from the right, not the one it wrote', async (t) => {
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

test.serial('4. PROXY_HOPS=2: two proxies append; entries the client wrote are still ignored', async (t) => {
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

const SMUGGLED = [
  'comma,attacker@evil.com',
  'angle<attacker@evil.com>',
  'me@dm.com (attacker@evil.com)',
  'x@dm.com;attacker@evil.com',
  'group: attacker@evil.com;',
  '"a@dm.com"@evil.com',
];

test.serial('8. an address with several recipients is refused by the API, the CLI and the mailer', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const token = createTokenPair(config.security, boss, true).access_token;
  for (const email of SMUGGLED) {
    const created = await api.request('POST', '/user/', {
      json: { name: 'Eve', email, dept: 'sales', password: 'a-fine-password-1' },
      token,
    });
    t.is(created.status, 422, email);
    t.deepEqual(
      created.body.detail.map((i: { loc: string[] }) => i.loc),
      [['body', 'email']],
    );
    t.is((await api.request('POST', '/user/pwd_reset_token/', { json: { email } })).status, 422, email);
  }
  for (const email of SMUGGLED.slice(0, 2)) {
    const cli = await runCli(
      ['create-user', '--name', 'Eve Cli', '--email', email, '--password', 'a-fine-password-1', '--dept', 'sales'],
      cliEnv(tdb.url),
    );
    t.not(cli.code, 0, email);
  }
  t.is(Number((await tdb.db('users').where('email', 'like', '%evil%').count({ n: '*' }))[0]!.n), 0);

  // A row stored before this check: the mailer refuses it rather than write to attacker@evil.com.
  const [legacy] = await makeUsers(tdb.db, 1);
  await tdb.db('users').where({ id: legacy!.id }).update({ email: 'legacy@dm.com,attacker@evil.com' });
  const mailer = createMailer(config.email);
  await t.throwsAsync(
    mailer.send('pwd_reset_email', {
      sender: 'no-reply@dm.com',
      to: 'legacy@dm.com,attacker@evil.com',
      url: 'u',
      pwd_reset_token: 't',
      expire: 10,
    }),
    { message: /2 recipients/ },
  );
  // And a row queued before it, for that address.
  await tdb
    .db('outbox')
    .insert({ kind: 'pwd_reset_email', payload: { email: 'legacy@dm.com,attacker@evil.com' }, max_attempts: 1 });
  await dispatch(tdb.db, config);
  t.is(
    (
      await tdb
        .db('outbox')
        .where('payload', '@>', JSON.stringify({ email: 'legacy@dm.com,attacker@evil.com' }))
        .first()
    )?.status,
    'dead',
  );
  t.false((await readEmailLog(config)).some((m) => m.to.includes('evil')));
});

test("8. over SMTP, the recipients counted are the envelope's: a bare word beside an address is no second RCPT TO", async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  // What the client says, as it says it: the sink refuses `RCPT TO:<bob>` before any hook of its sees it.
  let said = '';
  const wire = net.createServer((client) => {
    const server = net.connect(sink.port, '127.0.0.1');
    client.on('data', (d) => {
      said += String(d);
      server.write(d);
    });
    server.pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => wire.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => wire.close());
  const config = testConfig(tdb.url, {
    DUNDIE_EMAIL__DEBUG_MODE: 'false',
    DUNDIE_EMAIL__SMTP_SERVER: '127.0.0.1',
    DUNDIE_EMAIL__SMTP_PORT: String((wire.address() as net.AddressInfo).port),
  });
  const mailer = createMailer(config.email);
  t.teardown(() => mailer.close());
  const vars = { sender: 'no-reply@dm.com', url: 'u', pwd_reset_token: 't', expire: 10 };
  for (const to of ['legacy@dm.com,attacker@evil.com', 'legacy@dm.com; attacker@evil.com']) {
    await t.throwsAsync(mailer.send('pwd_reset_email', { ...vars, to }), { message: /2 recipients/ }, to);
  }
  // The header reads `bob` as a display name; the envelope holds legacy@dm.com alone.
  await mailer.send('pwd_reset_email', { ...vars, to: 'legacy@dm.com, bob' });
  await sink.waitFor(1);
  t.deepEqual(
    [...said.matchAll(/^RCPT TO:<([^>]*)>/gim)].map((m) => m[1]),
    ['legacy@dm.com'],
  );
});

const loginFrom = (api: Awaited<ReturnType<typeof startApi>>, client: string, username: string, password: string) =>
  api.request('POST', '/token', { form: { username, password }, headers: { 'X-Forwarded-For': client } });
const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {});

test.serial('2. the login-failure limit cannot be raced: 60 parallel wrong passwords, 10 checked', async (t) => {
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

test.serial("2. a successful login clears its client's failure count", async (t) => {
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

test.serial('3. lockout is no denial of service: failures elsewhere do not lock the real user out', async (t) => {
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

test.serial('3. failed logins slow down progressively', async (t) => {
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
  const started = performance.now();
  t.is((await loginFrom(api, '198.51.100.41', user.username, PASSWORD)).status, 200);
  t.true(performance.now() - started < 800, 'another client is not slowed');
});

test.serial('5. a stale token cannot change the password without the current one', async (t) => {
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

test.serial('6. refresh tokens rotate: each is good once, and a reused one ends its whole family', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const refresh = (refresh_token: string) => api.request('POST', '/refresh_token', { json: { refresh_token } });
  const login = () => api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });

  // A client that always uses the newest pair keeps working.
  const first = (await login()).body;
  let pair = first;
  for (let i = 0; i < 3; i++) {
    const next = await refresh(pair.refresh_token);
    t.is(next.status, 200);
    pair = next.body;
  }
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { token: pair.access_token, json: { bio: 'still here' } }))
      .status,
    200,
  );

  // A thief replays a spent refresh token: refused, and the owner's newest tokens die with it.
  t.is((await refresh(first.refresh_token)).status, 401);
  t.is((await refresh(pair.refresh_token)).status, 401, 'the family is revoked');
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { token: pair.access_token, json: { bio: 'x' } })).status,
    401,
    "the family's access tokens too",
  );

  // Another login (another family) is untouched.
  const other = (await login()).body;
  t.is((await refresh(other.refresh_token)).status, 200);

  // Two requests racing with one refresh token: one pair at most.
  const racing = (await login()).body.refresh_token;
  const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(racing)));
  t.true(answers.filter((r) => r.status === 200).length <= 1);
});

test.serial(
  '7. e-mail bombing: the per-address cooldown escalates to an hour, unknown addresses too, and resets after a quiet day',
  async (t) => {
    const { takeResetSlotsAndRenewNonces } = await import('../src/users/resetSlots.ts');
    let id = 1000;
    const take = async (email: string) =>
      (await takeResetSlotsAndRenewNonces(tdb.db, 60, [{ email, outboxId: String(id++), nonce: 'n' }], 3600))[0]!
        .allowed;
    // Time passes: the last e-mail to the address went out `seconds` ago.
    const lastSentAgo = (email: string, seconds: number) =>
      tdb
        .db('pwd_reset_throttle')
        .where({ email_key: email })
        .update({ sent_at: tdb.db.raw('now() - make_interval(secs => ?)', [seconds]) });

    for (const email of ['bombed-ghost@dm.com', (await makeUser(tdb.db)).email.toLowerCase()]) {
      t.true(await take(email), 'the first e-mail');
      t.false(await take(email), 'within 60 s');
      await lastSentAgo(email, 61);
      t.true(await take(email), 'after 60 s, the second');
      await lastSentAgo(email, 61);
      t.false(await take(email), 'now the cooldown is 120 s');
      await lastSentAgo(email, 121);
      t.true(await take(email), 'the third');
      await lastSentAgo(email, 239);
      t.false(await take(email), 'then 240 s');
      for (let n = 0; n < 6; n++) {
        await lastSentAgo(email, 3601);
        t.true(await take(email));
      }
      await lastSentAgo(email, 3599);
      t.false(await take(email), 'capped at an hour, and still an hour');
      await lastSentAgo(email, 3601);
      t.true(await take(email));
      await lastSentAgo(email, 86_401);
      t.true(await take(email), 'after a quiet day');
      await lastSentAgo(email, 61);
      t.true(await take(email), 'the cooldown is 60 s again');
    }
  },
);
