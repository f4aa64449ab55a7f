import test from 'ava';
import { PWD_RESET_MESSAGE } from '../../src/commands/requestPwdReset.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('pwd_reset', { clean: ['outbox'] });

async function changePasswordWith(api: Api, username: string, token: string, password: string) {
  return api.request('POST', `/user/${username}/password/?pwd_reset_token=${token}`, {
    json: { password, password_confirm: password },
  });
}

test.serial('debug mode: request, email.log, new password, login, and the link dies', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db, { name: 'Michael Scott', email: 'MScott@dm.com' });

  const asked = await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'mscott@DM.com' } });
  t.is(asked.status, 200);
  t.deepEqual(asked.body, { message: PWD_RESET_MESSAGE });

  const row = await tdb.db('outbox').orderBy('id', 'desc').first();
  t.is(row.status, 'pending');
  const { requester, ...queued } = row.payload;
  t.deepEqual(queued, { email: 'mscott@DM.com' });
  // Where the request came from, for the dispatcher's security event.
  t.like(requester, { address: '127.0.0.1' });

  const result = await dispatch(tdb.db, config);
  t.is(result.sent, 1);
  const [mail] = await readEmailLog(config);
  t.truthy(mail);
  t.is(mail!.to, 'MScott@dm.com');
  t.true(
    mail!.message.startsWith(
      'From: Dundie <no-reply@dm.com>\nTo: MScott@dm.com\nSubject: Password reset for Dundie\n\n',
    ),
  );
  t.regex(mail!.message, /http:\/\/localhost:8000\/reset_password\?pwd_reset_token=/);
  t.regex(mail!.message, /This link will expire in 10 minutes\./);

  const token = tokenFromText(mail!.message);
  const changed = await changePasswordWith(api, user.username, token, 'a-brand-new-password');
  t.is(changed.status, 200);
  t.is(changed.body.username, 'michael-scott');
  t.is(changed.headers.get('referrer-policy'), 'no-referrer');
  t.is(changed.headers.get('cache-control'), 'no-store');

  const oldLogin = await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  t.is(oldLogin.status, 401);
  const newLogin = await api.request('POST', '/token', {
    form: { username: user.username, password: 'a-brand-new-password' },
  });
  t.is(newLogin.status, 200);

  const again = await changePasswordWith(api, user.username, token, 'yet-another-password');
  t.is(again.status, 403);
  t.is(again.body.detail, "You are not allowed to change this user's password");

  const sent = await tdb.db('outbox').where({ id: row.id }).first();
  t.is(sent.status, 'sent');
  t.is(sent.attempts, 1);
  t.truthy(sent.processed_at);
  t.is(sent.locked_by, null);
  t.false(JSON.stringify(sent).includes(token), 'no token is stored in the outbox');
});

test.serial('SMTP mode: the server receives from, to, subject and the link', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
    DUNDIE_EMAIL__SMTP_SENDER: 'rewards@dm.com',
    DUNDIE_SECURITY__PWD_RESET_URL: 'https://rewards.dm.com/reset',
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db, { name: 'Pam Beesly', email: 'pam@dm.com' });

  const asked = await api.request('POST', '/user/pwd_reset_token', { json: { email: 'pam@dm.com' } });
  t.is(asked.status, 200);
  t.is((await dispatch(tdb.db, config)).sent, 1);

  const [message] = await smtp.waitFor(1);
  t.is(message!.from?.value[0]?.address, 'rewards@dm.com');
  t.is(message!.from?.value[0]?.name, 'Dundie');
  t.deepEqual(Array.isArray(message!.to) ? [] : message!.to?.value.map((a) => a.address), ['pam@dm.com']);
  t.is(message!.subject, 'Password reset for Dundie');
  t.regex(message!.text ?? '', /https:\/\/rewards\.dm\.com\/reset\?pwd_reset_token=/);

  const changed = await changePasswordWith(api, user.username, tokenFromText(message!.text ?? ''), 'pam-new-password');
  t.is(changed.status, 200);
});

test.serial('the answer is byte-identical for known and unknown addresses', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  await makeUser(tdb.db, { email: 'known@dm.com' });
  const a = await fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'known@dm.com' }),
  });
  const b = await fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'nobody@dm.com' }),
  });
  t.is(a.status, b.status);
  t.is(await a.text(), await b.text());
  t.is(a.headers.get('content-length'), b.headers.get('content-length'));
});

test.serial('an unknown address ends skipped with the reason and sends nothing', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, {
    ...smtpEnv(smtp),
  });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'ghost@dm.com' } });
  const result = await dispatch(tdb.db, config);
  t.is(result.skipped, 1);
  t.is(result.sent, 0);
  const row = await tdb.db('outbox').whereRaw(`payload->>'email' = 'ghost@dm.com'`).first();
  t.is(row.status, 'skipped');
  t.is(row.last_error, 'no user with this email');
  t.truthy(row.processed_at);
  t.is(smtp.attempts, 0);
});
