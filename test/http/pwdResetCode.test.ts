import test from 'ava';
import { RESET_CODE_REFUSED } from '../../src/commands/exchangeResetCode.ts';
import { housekeeping } from '../../src/commands/housekeeping.ts';
import { makeResetLink } from '../../src/commands/sendPwdReset.ts';
import { createLogger } from '../../src/log.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { codeFromText, dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('pwd_reset_code', { clean: ['outbox', 'pwd_reset_throttle'] });

/** Asks for a reset e-mail for `email`, sends it, and returns its link's token and its code. */
async function resetEmail(api: Api, config: ReturnType<typeof testConfig>, email: string) {
  const asked = await api.request('POST', '/user/pwd_reset_token/', { json: { email } });
  if (asked.status !== 200) throw new Error(`reset request answered ${asked.status}`);
  await dispatch(tdb.db, config);
  const mail = (await readEmailLog(config)).filter((m) => m.to === email).at(-1)!;
  return { token: tokenFromText(mail.message), code: codeFromText(mail.message) };
}

const exchange = (api: Api, email: string, code: string) =>
  api.request('POST', '/user/pwd_reset_code/', { json: { email, code } });

const setPassword = (api: Api, username: string, token: string, password = 'a-brand-new-password') =>
  api.request('POST', `/user/${username}/password/?pwd_reset_token=${token}`, {
    json: { password, password_confirm: password },
  });

/** Another code than `code`, as a guesser would type. */
const wrong = (code: string, n = 1) => String((Number(code) + n) % 1e8).padStart(8, '0');

async function started(t: { teardown(f: () => unknown): void }, env: Record<string, string> = {}) {
  const config = testConfig(tdb.url, env);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  return { config, api };
}

test.serial('the e-mail carries the code after the link, in both languages, text and HTML', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const { config, api } = await started(t, smtpEnv(smtp));
  const user = await makeUser(tdb.db);
  await api.request('POST', '/user/pwd_reset_token', { json: { email: user.email } });
  await api.request('POST', '/user/pwd_reset_token', {
    json: { email: user.email },
    headers: { 'Accept-Language': 'pt-BR' },
  });
  // Cooldown 0: both go out, one after the other (the second replaces the first's link and code).
  t.is((await dispatch(tdb.db, config)).sent, 2);
  // Sent at once, they may arrive in either order: each is told by its language.
  const mails = await smtp.waitFor(2);
  const en = mails.find((m) => m.text?.includes('Or type this code'));
  const pt = mails.find((m) => m.text?.includes('Ou digite este código'));
  for (const [mail, intro] of [
    [en!, 'Or type this code on the reset page'],
    [pt!, 'Ou digite este código na página de redefinição'],
  ] as const) {
    const text = mail.text!;
    const code = codeFromText(text);
    t.true(text.indexOf('pwd_reset_token=') < text.indexOf(intro), 'the link comes first');
    t.true(text.indexOf(intro) < text.indexOf(code));
    t.true(String(mail.html).includes(`<strong>${code}</strong>`));
    t.true(String(mail.html).indexOf('pwd_reset_token=') < String(mail.html).indexOf(code));
  }
  t.not(codeFromText(en!.text!), codeFromText(pt!.text!));
  // Kept only as a keyed hash: the digits are nowhere in the database.
  const slot = await tdb.db('pwd_reset_throttle').whereRaw('email_key = lower(?)', [user.email]).first();
  t.regex(slot.code_hash, /^[\w-]{43}$/);
  t.false(JSON.stringify(slot).includes(codeFromText(pt!.text!)));
  // Only the newest works.
  t.is((await exchange(api, user.email, codeFromText(en!.text!))).status, 400);
  t.is((await exchange(api, user.email, codeFromText(pt!.text!))).status, 200);
});

test.serial('the code is traded once for a token that sets the password; the e-mail link dies', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const { token: link, code } = await resetEmail(api, config, user.email);

  // Typed as people type it: another case, a space in the middle.
  const traded = await exchange(api, user.email.toUpperCase(), `${code.slice(0, 4)} ${code.slice(4)}`);
  t.is(traded.status, 200);
  t.is(traded.body.username, user.username);
  t.deepEqual(Object.keys(traded.body).sort(), ['pwd_reset_token', 'username']);
  t.is(traded.headers.get('cache-control'), 'no-store');

  const again = await exchange(api, user.email, code);
  t.is(again.status, 400);
  t.deepEqual(again.body, { detail: RESET_CODE_REFUSED });
  // Using the code ended the link of the same e-mail.
  t.is((await setPassword(api, user.username, link)).status, 403);
  t.is((await setPassword(api, user.username, traded.body.pwd_reset_token)).status, 200);
  const [changed] = await tdb.db('security_events').where({ kind: 'password_changed', user_id: user.id });
  t.is(changed?.detail, 'code', 'recorded as changed by a code');
  t.is((await setPassword(api, user.username, traded.body.pwd_reset_token, 'yet-another-password')).status, 403);
});

test.serial('a password changed by the link ends the code of the same e-mail', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const { token, code } = await resetEmail(api, config, user.email);
  t.is((await setPassword(api, user.username, token)).status, 200);
  const traded = await exchange(api, user.email, code);
  t.is(traded.status, 400);
  t.deepEqual(traded.body, { detail: RESET_CODE_REFUSED });
});

test.serial('20 parallel wrong guesses: only 5 are compared, then the right code is dead too', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const { code, token } = await resetEmail(api, config, user.email);
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => exchange(api, user.email, wrong(code, i + 1))),
  );
  t.true(answers.every((a) => a.status === 400 && a.body.detail === RESET_CODE_REFUSED));
  const slot = await tdb.db('pwd_reset_throttle').whereRaw('email_key = lower(?)', [user.email]).first();
  t.is(slot.code_tries, 5, 'counted before the comparison, never past the limit');
  const right = await exchange(api, user.email, code);
  t.is(right.status, 400);
  t.deepEqual(right.body, { detail: RESET_CODE_REFUSED });
  // The link of that e-mail still works: guesses at the code are no use of it.
  t.is((await setPassword(api, user.username, token)).status, 200);
});

test.serial('4 wrong guesses leave the 5th try to the right code', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const { code } = await resetEmail(api, config, user.email);
  for (let i = 1; i <= 4; i++) t.is((await exchange(api, user.email, wrong(code, i))).status, 400);
  t.is((await exchange(api, user.email, code)).status, 200);
});

test.serial('one 400, one detail: unknown address, wrong, expired, replaced, malformed code', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const first = await resetEmail(api, config, user.email);
  const second = await resetEmail(api, config, user.email);
  // An address with no account that asked too: its slot holds a code nobody has.
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'nobody@dm.com' } });
  await dispatch(tdb.db, config);
  t.truthy(
    (await tdb.db('pwd_reset_throttle').where({ email_key: 'nobody@dm.com' }).first()).code_hash,
    'the same work for an address with no account',
  );

  const refused = [
    await exchange(api, 'nobody@dm.com', second.code),
    await exchange(api, 'never-asked@dm.com', second.code),
    await exchange(api, user.email, first.code),
    await exchange(api, user.email, 'not-a-code'),
    await exchange(api, user.email, wrong(second.code)),
  ];
  await tdb
    .db('pwd_reset_throttle')
    .where({ email_key: user.email.toLowerCase() })
    .update({
      code_expires_at: tdb.db.raw("now() - interval '1 second'"),
    });
  refused.push(await exchange(api, user.email, second.code));
  for (const answer of refused) {
    t.is(answer.status, 400);
    t.deepEqual(answer.body, { detail: RESET_CODE_REFUSED });
  }
});

test.serial('the code is good for RESET_TOKEN_EXPIRE_MINUTES', async (t) => {
  const { config, api } = await started(t, { DUNDIE_SECURITY__RESET_TOKEN_EXPIRE_MINUTES: '7' });
  const user = await makeUser(tdb.db);
  await resetEmail(api, config, user.email);
  const { seconds } = await tdb
    .db('pwd_reset_throttle')
    .where({ email_key: user.email.toLowerCase() })
    .first(tdb.db.raw('extract(epoch from code_expires_at - sent_at)::int AS seconds'));
  t.is(seconds, 7 * 60);
});

test.serial('guesses count against the per-client limit', async (t) => {
  const { api } = await started(t, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '3' });
  for (let i = 0; i < 3; i++) t.is((await exchange(api, 'someone@dm.com', '12345678')).status, 400);
  const limited = await exchange(api, 'someone@dm.com', '12345678');
  t.is(limited.status, 429);
  t.truthy(limited.headers.get('retry-after'));
});

test.serial('the request is validated: an address and a code are required', async (t) => {
  const { api } = await started(t);
  t.is((await api.request('POST', '/user/pwd_reset_code/', { json: { email: 'a@dm.com' } })).status, 422);
  t.is((await api.request('POST', '/user/pwd_reset_code/', { json: { code: '12345678' } })).status, 422);
});

test.serial(
  'asked for with a spelling PostgreSQL lower-cases to the address (İ), the code works with the address',
  async (t) => {
    const { config, api } = await started(t);
    const user = await makeUser(tdb.db, { email: 'vickie@dm.com' });
    await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'vİckie@dm.com' } });
    await dispatch(tdb.db, config);
    const mail = (await readEmailLog(config)).filter((m) => m.to === user.email).at(-1);
    t.truthy(mail, 'the e-mail went to the account holder');
    t.is((await exchange(api, user.email, codeFromText(mail!.message))).status, 200);
  },
);

test.serial('an e-mail that did not go out leaves no live code: a suppressed address', async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  await tdb.db('email_suppressions').insert({ address: user.email.toLowerCase(), reason: '550 no such mailbox' });
  t.teardown(() => tdb.db('email_suppressions').del());
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
  t.like(await dispatch(tdb.db, config), { skipped: 1 });
  const [slot] = await tdb.db('pwd_reset_throttle').whereRaw('email_key = lower(?)', [user.email]);
  t.is(slot.code_hash, null);
});

test.serial("a help desk's code outlives housekeeping for its lifetime", async (t) => {
  const { config, api } = await started(t);
  const user = await makeUser(tdb.db);
  const { code } = await makeResetLink(tdb.db, config, createLogger(config), user, { by: 'test' });
  await housekeeping(tdb.db, config);
  t.is((await exchange(api, user.email, code)).status, 200);
});
