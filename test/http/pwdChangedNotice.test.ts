/**
 * The "password changed" notice: it goes out with the change, over SMTP or to email.log, never
 * held back by the reset cooldown, with no token in it and the user's data escaped; and it says
 * what happened: how (a reset link, an e-mail's code, the user's own session, an administrator),
 * when, and from which client address, in the language of the request that changed it.
 */
import test from 'ava';
import { createAccessToken } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { codeFromText, dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('pwd_changed_notice', { clean: ['outbox', 'pwd_reset_throttle'] });
const NEW = { password: 'a-brand-new-password', password_confirm: 'a-brand-new-password' };
const json = (body: unknown) => ({ json: body });
const newPassword = (p: string) => json({ password: p, password_confirm: p });

async function started(t: { teardown(fn: () => unknown): void }) {
  const config = testConfig(tdb.url);
  const api: Api = await startApi(config);
  t.teardown(() => api.service.stop());
  /** The newest message to `to`, once the dispatcher has worked the outbox. */
  const lastMailTo = async (to: string) => {
    await dispatch(tdb.db, config);
    return (await readEmailLog(config)).filter((m) => m.to === to).at(-1)!.message;
  };
  return { api, lastMailTo };
}

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

test.serial('changed with the link, in Portuguese: how, when, from where', async (t) => {
  const { api, lastMailTo } = await started(t);
  const user = await makeUser(tdb.db);
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
  const token = tokenFromText(await lastMailTo(user.email));
  const changed = await api.request('POST', `/user/${user.username}/password/?pwd_reset_token=${token}`, {
    json: NEW,
    headers: { 'Accept-Language': 'pt-BR' },
  });
  t.is(changed.status, 200);
  const notice = await lastMailTo(user.email);
  t.regex(notice, /Subject: Sua senha do Dundie foi alterada/);
  t.regex(notice, /foi alterada em \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\na partir do endereço 127\.0\.0\.1\./);
  t.regex(notice, /Ela foi trocada com o link de um e-mail de redefinição\./);
});

test.serial("changed with the e-mail's code", async (t) => {
  const { api, lastMailTo } = await started(t);
  const user = await makeUser(tdb.db);
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
  const code = codeFromText(await lastMailTo(user.email));
  const traded = await api.request('POST', '/user/pwd_reset_code/', { json: { email: user.email, code } });
  await api.request('POST', `/user/${user.username}/password/?pwd_reset_token=${traded.body.pwd_reset_token}`, {
    json: NEW,
  });
  const notice = await lastMailTo(user.email);
  t.regex(notice, /was changed on .* UTC\nfrom the address 127\.0\.0\.1\./);
  t.regex(notice, /It was changed with the code of a reset e-mail\./);
});

test.serial("changed in the user's own session, and by an administrator (in the default language)", async (t) => {
  const { api, lastMailTo } = await started(t);
  const user = await makeUser(tdb.db);
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const tokenOf = async (username: string) =>
    (await api.request('POST', '/token', { form: { username, password: PASSWORD } })).body.access_token as string;

  const own = await api.request('POST', `/user/${user.username}/password/`, {
    token: await tokenOf(user.username),
    json: NEW,
  });
  t.is(own.status, 200);
  t.regex(await lastMailTo(user.email), /It was changed by someone signed in to your account\./);

  const other = await makeUser(tdb.db);
  const byAdmin = await api.request('POST', `/user/${other.username}/password/`, {
    token: await tokenOf(boss.username),
    json: NEW,
    headers: { 'Accept-Language': 'pt-BR' },
  });
  t.is(byAdmin.status, 200);
  const notice = await lastMailTo(other.email);
  t.regex(notice, /An administrator changed it\./, "the administrator's language is not the user's");
});
