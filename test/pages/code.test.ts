/**
 * The code journey on the pages (issue 25): "Check your e-mail" offers a form for the e-mail's
 * code, with the address filled in from the step before; a right code leads to the page that
 * chooses a password, as the link does; every wrong answer is the same, in the person's language.
 */
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { codeFromText, dispatch, readEmailLog } from '../helpers/flow.ts';
import { pageClient, textOf } from '../helpers/pages.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('pages_code', { clean: ['outbox', 'pwd_reset_throttle'] });

async function started(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const config = testConfig(tdb.url, env);
  const a: Api = await startApi(config);
  t.teardown(() => a.service.stop());
  return { a, config };
}

const says = {
  en: {
    heading: 'Enter the code',
    wrong:
      'This code is not right, has expired, or was already used. After 5 wrong tries a code stops working: then ask for a new e-mail.',
    choose: 'Choose a new password for',
    notice: 'It was changed with the code of a reset e-mail.',
  },
  'pt-BR': {
    heading: 'Digite o código',
    wrong:
      'Este código não está certo, expirou ou já foi usado. Depois de 5 tentativas erradas o código deixa de valer: peça então um novo e-mail.',
    choose: 'Escolha uma nova senha para',
    notice: 'Ela foi trocada com o código de um e-mail de redefinição.',
  },
} as const;

for (const lang of ['en', 'pt-BR'] as const) {
  test.serial(`${lang}: ask, type the code from the e-mail, choose a password`, async (t) => {
    const { a, config } = await started(t);
    const user = await makeUser(tdb.db);
    const person = pageClient(a.base, { 'accept-language': lang });

    const asked = await person.post('/reset_password', { email: user.email });
    t.is(asked.status, 303);
    t.is(asked.location, '/reset_password/sent');
    const address = asked.cookies.find((c) => c.startsWith('dundie_reset_address='))!;
    t.regex(address, /Path=\/reset_password; Max-Age=600; SameSite=Strict; HttpOnly/);

    const sent = await person.get('/reset_password/sent');
    t.is(sent.status, 200);
    t.true(textOf(sent.html).includes(says[lang].heading));
    t.regex(sent.html, /<form method="post" action="\/reset_password\/code"/);
    t.true(sent.html.includes(`value="${user.email}"`), 'the address is filled in, server-side');
    t.regex(sent.html, /autocomplete="one-time-code" inputmode="numeric"/);

    await dispatch(tdb.db, config);
    const code = codeFromText((await readEmailLog(config)).at(-1)!.message);

    const wrong = await person.post('/reset_password/code', {
      email: user.email,
      code: code === '00000000' ? '1' : '0',
    });
    t.is(wrong.status, 400);
    t.true(textOf(wrong.html).includes(says[lang].wrong));
    t.regex(wrong.html, /aria-describedby="code-hint code-error" aria-invalid="true"/);
    t.false(person.jar.has('dundie_reset'));

    const right = await person.post('/reset_password/code', { email: user.email, code });
    t.is(right.status, 303);
    t.is(right.location, '/reset_password');
    t.true(person.jar.has('dundie_reset'), 'the token goes into the reset cookie, as a link would put it');
    t.false(person.jar.has('dundie_reset_address'), 'the address is forgotten once the code served');
    const choose = await person.get('/reset_password');
    t.true(textOf(choose.html).includes(`${says[lang].choose} ${user.username}`));

    const password = 'a-brand-new-password';
    const done = await person.post('/reset_password/new_password', {
      email: user.email,
      password,
      password_confirm: password,
    });
    t.is(done.status, 303);
    t.is(done.location, '/reset_password/done');
    const login = await a.request('POST', '/token', { form: { username: user.username, password } });
    t.is(login.status, 200);
    // The notice says it was the code, in the page's language.
    await dispatch(tdb.db, config);
    t.true((await readEmailLog(config)).at(-1)!.message.includes(says[lang].notice));
  });
}

test.serial('the code form answers the same for an unknown address, escapes what was typed', async (t) => {
  const { a } = await started(t);
  const person = pageClient(a.base);
  const unknown = await person.post('/reset_password/code', { email: 'nobody@dm.com', code: '12345678' });
  t.is(unknown.status, 400);
  t.true(textOf(unknown.html).includes(says.en.wrong));
  const typed = await person.post('/reset_password/code', { email: 'x"><b>@dm.com', code: '1' });
  t.is(typed.status, 400);
  t.regex(typed.html, /value="x&#34;&gt;&lt;b&gt;@dm.com"/);
});

test.serial('the code form refuses a cross-site post', async (t) => {
  const { a } = await started(t);
  const refused = await pageClient(a.base).post(
    '/reset_password/code',
    { email: 'a@dm.com', code: '12345678' },
    { 'sec-fetch-site': 'cross-site' },
  );
  t.is(refused.status, 403);
});

test.serial("the code form shares the API's per-client limit on code guesses", async (t) => {
  const { a } = await started(t, { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '2' });
  for (let i = 0; i < 2; i++)
    t.is((await a.request('POST', '/user/pwd_reset_code/', { json: { email: 'a@dm.com', code: '1' } })).status, 400);
  const limited = await pageClient(a.base).post('/reset_password/code', { email: 'a@dm.com', code: '12345678' });
  t.is(limited.status, 429);
  t.truthy(limited.headers.get('retry-after'));
  t.regex(limited.html, /role="alert"/);
});
