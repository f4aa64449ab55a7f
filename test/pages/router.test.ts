/**
 * The reset pages over plain HTTP (issue 12): headers on every state, links that opening does not
 * use up, cross-site posts refused, the API's limit, errors next to the field, the locale kept in
 * the outbox and followed by the e-mails, and no token in the log. The browser journeys are in
 * test/pagesBrowser.test.ts.
 */
import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PAGE_CSP } from '../../src/pages/guards.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { pageClient, textOf, type PageAnswer } from '../helpers/pages.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

/** A reset row's payload without where the request came from (its security event's business). */
const withoutRequester = ({ requester: _requester, ...payload }: Record<string, unknown>) => payload;

const tdb = useTestDatabase('pages', { clean: ['outbox'] });

async function api(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = {},
  log?: Parameters<typeof startApi>[2],
): Promise<Api> {
  const config = testConfig(tdb.url, env);
  const started = await startApi(config, undefined, log);
  t.teardown(() => started.service.stop());
  return started;
}

/** A reset link for `email`, asked through the page and read from email.log. */
async function linkFor(a: Api, email: string, env: Record<string, string> = {}): Promise<string> {
  const config = testConfig(tdb.url, env);
  const asked = await pageClient(a.base).post('/reset_password', { email });
  if (asked.status !== 303) throw new Error(`asking for a link answered ${asked.status}`);
  await dispatch(tdb.db, config);
  const mails = await readEmailLog(config);
  return tokenFromText(mails.at(-1)!.message);
}

function assertPageHeaders(t: import('ava').ExecutionContext, answer: PageAnswer, what: string) {
  t.is(answer.headers.get('content-security-policy'), PAGE_CSP, what);
  t.is(answer.headers.get('referrer-policy'), 'no-referrer', what);
  t.is(answer.headers.get('cache-control'), 'no-store', what);
  t.is(answer.headers.get('x-frame-options'), 'DENY', what);
  t.is(answer.headers.get('x-content-type-options'), 'nosniff', what);
}

test.serial('every page state carries the CSP, no-referrer, no-store and anti-framing headers', async (t) => {
  const a = await api(t, { DUNDIE_EMAIL__LOG_FILE: `/tmp/dundie-pages-${process.pid}-h.log` });
  const user = await makeUser(tdb.db);
  const browser = pageClient(a.base);
  const states: [string, PageAnswer][] = [];
  states.push(['request form', await browser.get('/reset_password')]);
  states.push(['bad address', await browser.post('/reset_password', { email: 'not an address' })]);
  states.push([
    'cross-site post',
    await browser.post('/reset_password', { email: 'a@dm.com' }, { 'sec-fetch-site': 'cross-site' }),
  ]);
  states.push(['sent', await browser.get('/reset_password/sent')]);
  states.push(['done', await browser.get('/reset_password/done')]);
  states.push(['opening a link', await browser.get('/reset_password?pwd_reset_token=nonsense')]);
  states.push(['expired', await browser.get('/reset_password')]);
  const token = await linkFor(a, user.email, { DUNDIE_EMAIL__LOG_FILE: `/tmp/dundie-pages-${process.pid}-h.log` });
  await browser.get(`/reset_password?pwd_reset_token=${token}`);
  states.push(['choose', await browser.get('/reset_password')]);
  states.push([
    'policy error',
    await browser.post('/reset_password/new_password', {
      email: user.email,
      password: 'short',
      password_confirm: 'short',
    }),
  ]);
  states.push(['post redirect', await browser.post('/reset_password', { email: user.email })]);
  for (const [what, answer] of states) assertPageHeaders(t, answer, what);
  t.regex(states[0]![1].headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  const css = await fetch(`${a.base}/static/dundie.css`);
  t.is(css.status, 200);
  t.regex(css.headers.get('content-type') ?? '', /^text\/css/);
  t.is(css.headers.get('x-content-type-options'), 'nosniff');
});

test.serial('opening a link moves the token into a strict cookie and never uses it up', async (t) => {
  const a = await api(t);
  const user = await makeUser(tdb.db, { name: 'Dwight Schrute', email: 'dwight@dm.com' });
  const token = await linkFor(a, 'dwight@dm.com');
  const browser = pageClient(a.base);

  const opened = await browser.get(`/reset_password?pwd_reset_token=${token}`);
  t.is(opened.status, 200);
  t.regex(opened.html, /<meta http-equiv="refresh" content="0;url=\/reset_password">/);
  const cookie = opened.cookies.find((c) => c.startsWith('dundie_reset='));
  t.truthy(cookie);
  t.regex(cookie!, /; Path=\/reset_password/);
  t.regex(cookie!, /; Max-Age=600/);
  t.regex(cookie!, /; SameSite=Strict/);
  t.regex(cookie!, /; HttpOnly/);
  t.notRegex(cookie!, /Secure/, 'plain http: no Secure, or the browser would drop it');

  // Link scanners, prefetchers and a person reloading: each GET only looks.
  for (let i = 0; i < 3; i++) {
    const page = await browser.get('/reset_password');
    t.is(page.status, 200);
    t.true(textOf(page.html).includes('Choose a new password for dwight-schrute'));
    t.false(page.html.includes(token), 'the page never shows the token');
  }
  const fresh = await tdb.db('users').where({ id: user.id }).first();
  t.is(fresh.password_hash, user.password_hash);

  // Still good for the API after all that looking.
  const changed = await a.request('POST', `/user/${user.username}/password/?pwd_reset_token=${token}`, {
    json: { password: 'beets-bears-battlestar', password_confirm: 'beets-bears-battlestar' },
  });
  t.is(changed.status, 200);
  const after = await browser.get('/reset_password');
  t.true(textOf(after.html).includes('This link has expired or was already used'));
  t.regex(after.html, /<form method="post" action="\/reset_password"/, 'with a way to ask for a new one');
});

test.serial(
  "a link to someone else's account names that account and changes nothing without the address it was sent to",
  async (t) => {
    const a = await api(t);
    const todd = await makeUser(tdb.db, { name: 'Todd Packer', email: 'packer@dm.com' });
    // Todd asks for a link to his own account and gets Jim to open it (link fixation).
    const token = await linkFor(a, 'packer@dm.com');
    const good = { password: 'identity-theft-is-not-a-joke', password_confirm: 'identity-theft-is-not-a-joke' };
    for (const [lang, says] of [
      [
        'en',
        {
          account: 'This link is for the Dundie account todd-packer (Todd Packer).',
          wrong: 'This is not the address this link was sent to. If todd-packer is not your account, close this page.',
        },
      ],
      [
        'pt-BR',
        {
          account: 'Este link é da conta Dundie todd-packer (Todd Packer).',
          wrong:
            'Este não é o endereço para o qual este link foi enviado. Se todd-packer não é sua conta, feche esta página.',
        },
      ],
    ] as const) {
      const jim = pageClient(a.base, { 'accept-language': lang });
      await jim.get(`/reset_password?pwd_reset_token=${token}`);
      const page = await jim.get('/reset_password');
      t.true(textOf(page.html).includes(says.account), lang);
      t.regex(page.html, /<strong>todd-packer<\/strong>/, `${lang}: the account name stands out`);
      t.regex(
        page.html,
        /<input id="email" name="email" type="email" autocomplete="email" inputmode="email" required maxlength="254" value="" aria-describedby="email-hint">/,
        `${lang}: a labelled, required e-mail field`,
      );
      t.regex(page.html, /<label for="email">/);

      for (const typed of ['jim@dm.com', '', 'jim@dm.com"><script>alert(1)</script>']) {
        const refused = await jim.post('/reset_password/new_password', { email: typed, ...good });
        t.is(refused.status, 400, `${lang}: ${typed}`);
        t.regex(refused.html, new RegExp(`<p class="error" id="email-error">${says.wrong}</p>`), lang);
        t.regex(refused.html, /aria-describedby="email-hint email-error" aria-invalid="true"/);
        t.false(refused.html.includes('<script>alert'), 'what was typed comes back escaped');
        t.true(jim.jar.has('dundie_reset'), 'the link stays open for its owner');
      }
      const escaped = await jim.post('/reset_password/new_password', { email: 'x"><b>@dm.com', ...good });
      t.regex(escaped.html, /value="x&#34;&gt;&lt;b&gt;@dm.com"/);
    }
    t.is((await tdb.db('users').where({ id: todd.id }).first()).password_hash, todd.password_hash);

    // The address the link was sent to, as a person types it (case, blanks): the password changes.
    const owner = pageClient(a.base);
    await owner.get(`/reset_password?pwd_reset_token=${token}`);
    const done = await owner.post('/reset_password/new_password', { email: ' Packer@DM.com ', ...good });
    t.is(done.status, 303);
    t.is(done.location, '/reset_password/done');
  },
);

test.serial("the API's token route still changes the password without the e-mail address (SPEC)", async (t) => {
  const a = await api(t);
  const user = await makeUser(tdb.db, { email: 'pam@dm.com' });
  const token = await linkFor(a, 'pam@dm.com');
  const changed = await a.request('POST', `/user/${user.username}/password/?pwd_reset_token=${token}`, {
    json: { password: 'art-school-in-new-york', password_confirm: 'art-school-in-new-york' },
  });
  t.is(changed.status, 200);
});

test.serial('the reset cookie is Secure when PUBLIC_URL is https', async (t) => {
  const a = await api(t, { DUNDIE_SERVER__PUBLIC_URL: 'https://rewards.dm.com' });
  const opened = await pageClient(a.base).get('/reset_password?pwd_reset_token=abc');
  t.regex(
    opened.cookies.find((c) => c.startsWith('dundie_reset='))!,
    /; Secure/,
  );
});

test.serial('cross-site form posts are refused and change nothing', async (t) => {
  const a = await api(t, { DUNDIE_SERVER__PUBLIC_URL: 'https://rewards.dm.com' });
  const user = await makeUser(tdb.db, { email: 'angela@dm.com' });
  const token = await linkFor(a, 'angela@dm.com');
  await tdb.db('outbox').del();
  const browser = pageClient(a.base);
  await browser.get(`/reset_password?pwd_reset_token=${token}`);
  const good = { email: 'angela@dm.com', password: 'sprinkles-the-cat', password_confirm: 'sprinkles-the-cat' };

  const forged: Record<string, string>[] = [
    { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    { 'sec-fetch-site': 'same-site', origin: 'https://evil.dm.com' },
    { 'sec-fetch-site': '', origin: 'https://evil.example' },
    { 'sec-fetch-site': '', origin: 'null' },
  ];
  for (const headers of forged) {
    const asked = await browser.post('/reset_password', { email: 'angela@dm.com' }, headers);
    t.is(asked.status, 403, JSON.stringify(headers));
    t.true(textOf(asked.html).includes('This form came from another site'));
    const set = await browser.post('/reset_password/new_password', good, headers);
    t.is(set.status, 403, JSON.stringify(headers));
  }
  t.is((await tdb.db('outbox').count({ n: '*' }))[0]!.n, '0');
  t.is((await tdb.db('users').where({ id: user.id }).first()).password_hash, user.password_hash);

  // Our own pages: Sec-Fetch-Site same-origin, or (no Sec-Fetch-Site) Origin PUBLIC_URL or the request's own.
  t.is((await browser.post('/reset_password/new_password', good)).status, 303);
  t.is(
    (
      await browser.post(
        '/reset_password',
        { email: 'x@dm.com' },
        { 'sec-fetch-site': '', origin: 'https://rewards.dm.com' },
      )
    ).status,
    303,
  );
  t.is(
    (await browser.post('/reset_password', { email: 'x@dm.com' }, { 'sec-fetch-site': '', origin: a.base })).status,
    303,
  );
});

test.serial('the form answers the same for every address, and the outbox keeps the language', async (t) => {
  const a = await api(t);
  await makeUser(tdb.db, { email: 'known@dm.com' });
  const browser = pageClient(a.base, { 'accept-language': 'pt-BR,pt;q=0.9,en;q=0.8' });
  const known = await browser.post('/reset_password', { email: 'known@dm.com' });
  const unknown = await browser.post('/reset_password', { email: 'nobody@dm.com' });
  t.is(known.status, 303);
  t.is(known.location, '/reset_password/sent');
  t.deepEqual([unknown.status, unknown.location, unknown.html], [known.status, known.location, known.html]);
  const sent = await browser.get('/reset_password/sent');
  t.true(textOf(sent.html).includes('Se encontramos um usuário com esse endereço de e-mail'));
  t.regex(sent.html, /<html lang="pt-BR">/);

  const rows = await tdb.db('outbox').orderBy('id');
  t.deepEqual(
    rows.map((r) => withoutRequester(r.payload)),
    [
      { email: 'known@dm.com', locale: 'pt-BR' },
      { email: 'nobody@dm.com', locale: 'pt-BR' },
    ],
  );
  // The switch wins over Accept-Language, and is remembered.
  const switched = await browser.get('/reset_password?lang=en');
  t.regex(switched.html, /<html lang="en">/);
  t.is(browser.jar.get('dundie_lang'), 'en');
  await browser.post('/reset_password', { email: 'known@dm.com' });
  t.deepEqual(withoutRequester((await tdb.db('outbox').orderBy('id', 'desc').first()).payload), {
    email: 'known@dm.com',
    locale: 'en',
  });
  // The API's answers stay English whatever the header.
  const apiAnswer = await a.request('POST', '/user/pwd_reset_token/', {
    json: { email: 'known@dm.com' },
    headers: { 'accept-language': 'pt-BR' },
  });
  t.regex(apiAnswer.body.message, /^If we found a user/);
});

test.serial("the page shares the API's per-client limit and says when to try again", async (t) => {
  const a = await api(t, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '2' });
  await tdb.db('rate_limiter').del();
  const browser = pageClient(a.base);
  t.is((await a.request('POST', '/user/pwd_reset_token/', { json: { email: 'a@dm.com' } })).status, 200);
  t.is((await browser.post('/reset_password', { email: 'b@dm.com' })).status, 303);
  const refused = await browser.post('/reset_password', { email: 'c@dm.com' });
  t.is(refused.status, 429);
  const seconds = Number(refused.headers.get('retry-after'));
  t.true(seconds >= 1 && seconds <= 60);
  t.true(textOf(refused.html).includes(`Please try again in ${seconds} s.`));
  t.regex(refused.html, /value="c@dm.com"/, 'what was typed stays typed');
  t.is((await a.request('POST', '/user/pwd_reset_token/', { json: { email: 'a@dm.com' } })).status, 429);
  await tdb.db('rate_limiter').del();
});

test.serial("password errors are said next to their field, in the person's language", async (t) => {
  const a = await api(t);
  const user = await makeUser(tdb.db, { name: 'Oscar Martinez', email: 'oscar@dm.com' });
  const token = await linkFor(a, 'oscar@dm.com');
  const browser = pageClient(a.base, { 'accept-language': 'pt-BR' });
  await browser.get(`/reset_password?pwd_reset_token=${token}`);

  const both = await browser.post('/reset_password/new_password', {
    email: 'oscar@dm.com',
    password: 'oscar-martinez',
    password_confirm: 'something-else',
  });
  t.is(both.status, 400);
  t.regex(both.html, /<p class="error" id="password-error">Não use seu nome de usuário como senha.<\/p>/);
  t.regex(both.html, /<p class="error" id="password_confirm-error">As duas senhas não são iguais.<\/p>/);
  t.regex(both.html, /aria-describedby="password-hint password-error" aria-invalid="true"/);
  const common = await browser.post('/reset_password/new_password', {
    email: 'oscar@dm.com',
    password: 'qwertyuiop',
    password_confirm: 'qwertyuiop',
  });
  t.regex(common.html, /id="password-error">Essa senha é comum demais/);
  t.is((await tdb.db('users').where({ id: user.id }).first()).password_hash, user.password_hash);

  const done = await browser.post('/reset_password/new_password', {
    email: 'oscar@dm.com',
    password: 'accountant-of-the-year',
    password_confirm: 'accountant-of-the-year',
  });
  t.is(done.status, 303);
  t.is(done.location, '/reset_password/done');
  t.false(browser.jar.has('dundie_reset'), 'the cookie goes with the link');
  t.is(
    (await a.request('POST', '/token', { form: { username: user.username, password: 'accountant-of-the-year' } }))
      .status,
    200,
  );
  t.is((await a.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).status, 401);
});

test.serial('a reset asked in Portuguese is e-mailed in Portuguese, and so is the notice', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const env = smtpEnv(smtp);
  const a = await api(t, env);
  const config = testConfig(tdb.url, env);
  await makeUser(tdb.db, { name: 'Kevin Malone', email: 'kevin@dm.com' });
  const browser = pageClient(a.base, { 'accept-language': 'pt-BR' });
  t.is((await browser.post('/reset_password', { email: 'kevin@dm.com' })).status, 303);
  await dispatch(tdb.db, config);
  const [reset] = await smtp.waitFor(1);
  t.is(reset!.subject, 'Redefinição de senha do Dundie');
  t.regex(
    reset!.text ?? '',
    /Use o link abaixo para redefinir sua senha:\nhttp:\/\/localhost:8000\/reset_password\?pwd_reset_token=/,
  );
  t.regex(reset!.text ?? '', /Este link expira em 10 minutos\./);
  t.regex(String(reset!.html), /<html lang="pt-BR">/);

  await browser.get(`/reset_password?pwd_reset_token=${tokenFromText(reset!.text ?? '')}`);
  t.is(
    (
      await browser.post('/reset_password/new_password', {
        email: 'kevin@dm.com',
        password: 'chili-on-the-carpet',
        password_confirm: 'chili-on-the-carpet',
      })
    ).status,
    303,
  );
  await dispatch(tdb.db, config);
  const messages = await smtp.waitFor(2);
  t.is(messages[1]!.subject, 'Sua senha do Dundie foi alterada');
  t.regex(messages[1]!.text ?? '', /A senha da sua conta Dundie kevin-malone foi alterada em/);
});

test.serial('a request that named no language is e-mailed in DEFAULT_LOCALE', async (t) => {
  const env = {
    DUNDIE_EMAIL__DEFAULT_LOCALE: 'pt-BR',
    DUNDIE_EMAIL__LOG_FILE: `/tmp/dundie-pages-${process.pid}-d.log`,
  };
  const a = await api(t, env);
  await makeUser(tdb.db, { email: 'toby@dm.com' });
  t.is((await a.request('POST', '/user/pwd_reset_token/', { json: { email: 'toby@dm.com' } })).status, 200);
  await dispatch(tdb.db, testConfig(tdb.url, env));
  const [mail] = await readEmailLog(testConfig(tdb.url, env));
  t.regex(mail!.message, /^From: Dundie <no-reply@dm.com>\nTo: toby@dm.com\nSubject: Redefinição de senha do Dundie\n/);
});

test.serial('no token reaches the request log, nor the cookie', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const a = await api(t, {}, pino({ level: 'info' }, sink));
  await makeUser(tdb.db, { email: 'creed@dm.com' });
  const token = await linkFor(a, 'creed@dm.com');
  const browser = pageClient(a.base);
  await browser.get(`/reset_password?pwd_reset_token=${token}`);
  await browser.get('/reset_password');
  await browser.post('/reset_password/new_password', { password: 'x', password_confirm: 'y' });
  await browser.post('/reset_password/new_password', {
    email: 'creed@dm.com',
    password: 'mung-beans-forever',
    password_confirm: 'mung-beans-forever',
  });
  const log = lines.join('');
  t.true(log.includes('/reset_password?pwd_reset_token=REDACTED'));
  t.false(log.includes(token));
  t.false(log.includes(token.split('.')[2]!), 'not even the signature');
  t.false(log.includes('mung-beans-forever'));
});

test.serial('a page that fails says so as a page, not as JSON', async (t) => {
  const a = await api(t);
  const browser = pageClient(a.base);
  const wrong = await browser.get('/reset_password/nowhere');
  t.is(wrong.status, 404);
  t.regex(wrong.headers.get('content-type') ?? '', /text\/html/);
  assertPageHeaders(t, wrong, 'unknown page');
  const method = await fetch(`${a.base}/reset_password`, { method: 'DELETE' });
  t.is(method.status, 405);
  t.regex(method.headers.get('content-type') ?? '', /text\/html/);
  for (const [what, init] of [
    ['unreadable JSON', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{{{' }],
    [
      'a body over the limit',
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `email=${'a'.repeat(200 * 1024)}`,
      },
    ],
    ['an unsupported content type', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' }],
  ] as const) {
    const res = await fetch(`${a.base}/reset_password`, init);
    t.true(res.status >= 400 && res.status < 500, what);
    t.regex(res.headers.get('content-type') ?? '', /text\/html/, what);
    t.is(res.headers.get('content-security-policy'), PAGE_CSP, what);
  }
});

test.serial("the password form's address opened again leads back to the form, not to an error", async (t) => {
  const a = await api(t);
  const res = await fetch(`${a.base}/reset_password/new_password`, { redirect: 'manual' });
  t.is(res.status, 303);
  t.is(new URL(res.headers.get('location')!, a.base).pathname, '/reset_password');
});

test.serial('?lang= takes a language as Accept-Language would (pt, PT-br)', async (t) => {
  const a = await api(t);
  for (const lang of ['pt', 'PT-br', 'pt-BR']) {
    const page = await pageClient(a.base).get(`/reset_password?lang=${lang}`);
    t.regex(page.html, /<html lang="pt-BR"/, lang);
  }
});

test.serial("the API keeps the caller's language for the e-mail, and answers in English", async (t) => {
  const a = await api(t);
  const asked = await a.request('POST', '/user/pwd_reset_token/', {
    json: { email: 'meredith@dm.com' },
    headers: { 'accept-language': 'pt-BR,en;q=0.5' },
  });
  t.regex(asked.body.message, /^If we found a user with that email/);
  await a.request('POST', '/user/pwd_reset_token/', {
    json: { email: 'stanley@dm.com' },
    headers: { 'accept-language': 'fr' },
  });
  const rows = await tdb.db('outbox').orderBy('id');
  t.deepEqual(
    rows.map((r) => withoutRequester(r.payload)),
    [{ email: 'meredith@dm.com', locale: 'pt-BR' }, { email: 'stanley@dm.com' }],
  );
});

test.serial('password checks at capacity: the page says "try again" with 503 and Retry-After, not a 500', async (t) => {
  const env = {
    DUNDIE_SECURITY__HASH_CONCURRENCY: '1',
    DUNDIE_SECURITY__HASH_QUEUE: '0',
    DUNDIE_EMAIL__LOG_FILE: `/tmp/dundie-pages-${process.pid}-busy.log`,
  };
  const a = await api(t, env);
  const user = await makeUser(tdb.db);
  const token = await linkFor(a, user.email, env);
  const browser = pageClient(a.base);
  await browser.get(`/reset_password?pwd_reset_token=${token}`);
  await browser.get('/reset_password');
  // Logins hold the one hash slot; with no queue, a password change meanwhile is refused at once.
  const logins = Array.from({ length: 6 }, () =>
    a.request('POST', '/token', { form: { username: user.username, password: 'not-the-password' } }),
  );
  const changes = Array.from({ length: 3 }, () =>
    browser.post('/reset_password/new_password', {
      email: user.email,
      password: 'quiet-harbor-77',
      password_confirm: 'quiet-harbor-77',
    }),
  );
  const answers = await Promise.all(changes);
  await Promise.all(logins);
  const busy = answers.filter((p) => p.status === 503);
  t.true(busy.length > 0, `statuses: ${answers.map((p) => p.status).join(' ')}`);
  t.false(answers.some((p) => p.status === 500));
  for (const page of busy) {
    t.is(page.headers.get('retry-after'), '1');
    t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  }
});
