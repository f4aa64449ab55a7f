/**
 * Resets someone else sends (issue 25, item 2): `POST /user/{username}/pwd_reset/` for
 * superusers, with the address's cooldown and a logged override; `dundie send-reset` and
 * `dundie reset-link` for operators.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RESET_CODE_REFUSED } from '../../src/commands/exchangeResetCode.ts';
import { RESET_QUEUED } from '../../src/commands/sendPwdReset.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { codeFromText, dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { cliEnv, runCli } from '../helpers/process.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('admin_reset', { clean: ['outbox', 'pwd_reset_throttle'] });

async function started(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const config = testConfig(tdb.url, env);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const api: Api = await startApi(config, undefined, pino({ level: 'info' }, sink));
  t.teardown(() => api.service.stop());
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { api, config, logged };
}

async function login(api: Api, username: string) {
  const answer = await api.request('POST', '/token', { form: { username, password: PASSWORD } });
  return answer.body.access_token as string;
}

test.serial('a superuser sends a user the reset e-mail: 202, a link and a code, logged', async (t) => {
  const { api, config, logged } = await started(t);
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const user = await makeUser(tdb.db);
  const sent = await api.request('POST', `/user/${user.username}/pwd_reset/`, {
    token: await login(api, boss.username),
  });
  t.is(sent.status, 202);
  t.deepEqual(sent.body, { message: RESET_QUEUED });
  t.is((await dispatch(tdb.db, config)).sent, 1);
  const mail = (await readEmailLog(config)).at(-1)!;
  t.is(mail.to, user.email);
  const traded = await api.request('POST', '/user/pwd_reset_code/', {
    json: { email: user.email, code: codeFromText(mail.message) },
  });
  t.is(traded.status, 200);
  t.truthy(tokenFromText(mail.message));
  const line = logged().find((l) => l.msg === 'reset e-mail sent for a user');
  t.like(line, { username: user.username, by: `superuser ${boss.username}`, override_cooldown: false });
});

test.serial('only a superuser may: 401 without a token, 403 for anyone else, 404 for no such user', async (t) => {
  const { api } = await started(t);
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const user = await makeUser(tdb.db);
  const other = await makeUser(tdb.db);
  t.is((await api.request('POST', `/user/${user.username}/pwd_reset/`)).status, 401);
  const mine = await api.request('POST', `/user/${user.username}/pwd_reset/`, {
    token: await login(api, user.username),
  });
  t.is(mine.status, 403);
  const theirs = await api.request('POST', `/user/${user.username}/pwd_reset/`, {
    token: await login(api, other.username),
    json: { override_cooldown: true },
  });
  t.is(theirs.status, 403);
  t.is(theirs.body.detail, 'Only superusers can send a reset e-mail for a user');
  const missing = await api.request('POST', '/user/nobody-here/pwd_reset/', { token: await login(api, boss.username) });
  t.is(missing.status, 404);
  t.is(
    await tdb
      .db('outbox')
      .count('* as n')
      .first()
      .then((r) => Number(r!.n)),
    0,
    'nothing queued',
  );
});

test.serial("the address's cooldown applies; a superuser's override sends anyway and is logged", async (t) => {
  const { api, config, logged } = await started(t, { DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '600' });
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const user = await makeUser(tdb.db);
  const token = await login(api, boss.username);
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
  t.is((await dispatch(tdb.db, config)).sent, 1);

  t.is((await api.request('POST', `/user/${user.username}/pwd_reset/`, { token })).status, 202);
  t.like(await dispatch(tdb.db, config), { sent: 0, skipped: 1 });

  const overridden = await api.request('POST', `/user/${user.username}/pwd_reset/`, {
    token,
    json: { override_cooldown: true },
  });
  t.is(overridden.status, 202);
  t.like(await dispatch(tdb.db, config), { sent: 1 });
  const warn = logged().find((l) => l.msg === 'reset e-mail sent for a user, overriding the cooldown');
  t.like(warn, { level: 40, username: user.username, by: `superuser ${boss.username}`, override_cooldown: true });
  const events = await tdb.db('security_events').where({ kind: 'admin_reset_sent', user_id: user.id }).orderBy('id');
  t.deepEqual(
    events.map((e) => e.detail),
    ['email', 'email_cooldown_overridden'],
    'each recorded as a security event of the user',
  );
  t.true(events.every((e) => e.client_address === '127.0.0.1' && e.request_id));
  // The newest e-mail is the override's: the first one's code is dead.
  const mails = (await readEmailLog(config)).filter((m) => m.to === user.email);
  t.is(mails.length, 2);
  const first = await api.request('POST', '/user/pwd_reset_code/', {
    json: { email: user.email, code: codeFromText(mails[0]!.message) },
  });
  t.deepEqual(first.body, { detail: RESET_CODE_REFUSED });
});

test.serial('dundie send-reset and reset-link: a link and a code for a help desk, the newest, logged', async (t) => {
  const emailLog = path.join(mkdtempSync(path.join(tmpdir(), 'dundie-resets-')), 'email.log');
  const env = cliEnv(tdb.url, { DUNDIE_EMAIL__LOG_FILE: emailLog, DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '600' });
  const { api } = await started(t, { DUNDIE_EMAIL__LOG_FILE: emailLog });
  const user = await makeUser(tdb.db);

  const sent = await runCli(['send-reset', user.username], env);
  t.is(sent.code, 0, sent.stderr);
  t.regex(sent.stdout, new RegExp(`reset e-mail sent to ${user.email}`));
  const throttled = await runCli(['send-reset', user.username], env);
  t.regex(throttled.stdout, /reset e-mail not sent: skipped \(throttled\)/);
  const forced = await runCli(['send-reset', user.username, '--override-cooldown'], env);
  t.regex(forced.stdout, /reset e-mail sent to/);
  t.regex(forced.stderr, /overriding the cooldown/);
  const mailed = (await readEmailLog(testConfig(tdb.url, { DUNDIE_EMAIL__LOG_FILE: emailLog }))).at(-1)!;

  const made = await runCli(['reset-link', user.username], env);
  t.is(made.code, 0, made.stderr);
  t.regex(made.stderr, /reset link and code made for a help desk/);
  const link = /^link: (\S+)$/m.exec(made.stdout)![1]!;
  const code = /^code: (\d{8}) /m.exec(made.stdout)![1]!;
  t.true(link.startsWith('http://localhost:8000/reset_password?pwd_reset_token='));
  t.regex(made.stdout, /work once, for 10 minutes/);

  // The help desk's link and code are the newest: the e-mailed ones are dead.
  const oldCode = await api.request('POST', '/user/pwd_reset_code/', {
    json: { email: user.email, code: codeFromText(mailed.message) },
  });
  t.is(oldCode.status, 400);
  const oldLink = await api.request(
    'POST',
    `/user/${user.username}/password/?pwd_reset_token=${tokenFromText(mailed.message)}`,
    {
      json: { password: 'a-brand-new-password', password_confirm: 'a-brand-new-password' },
    },
  );
  t.is(oldLink.status, 403);
  // Its code works (and ends its link), and not for another address.
  t.is((await api.request('POST', '/user/pwd_reset_code/', { json: { email: 'someone@dm.com', code } })).status, 400);
  const traded = await api.request('POST', '/user/pwd_reset_code/', { json: { email: user.email, code } });
  t.is(traded.status, 200);
  const viaLink = await api.request('POST', `/user/${user.username}/password/?pwd_reset_token=${tokenFromText(link)}`, {
    json: { password: 'a-brand-new-password', password_confirm: 'a-brand-new-password' },
  });
  t.is(viaLink.status, 403, 'the link died with its code');

  const events = await tdb.db('security_events').where({ kind: 'admin_reset_sent', user_id: user.id }).orderBy('id');
  t.deepEqual(
    events.map((e) => e.detail),
    ['email', 'email', 'email_cooldown_overridden', 'link_made'],
  );
  t.is((await runCli(['reset-link', 'nobody-here'], env)).code, 1);
  t.is((await runCli(['send-reset'], env)).code, 2);
});
