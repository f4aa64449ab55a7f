/**
 * A person's whole journey in a real browser (issue 12): headless Chromium (Debian's `chromium`)
 * driven by playwright-core, a real SMTP server for a mailbox, the service with its dispatcher.
 * In English and in Portuguese, with JavaScript and without: ask for a link, read the e-mail,
 * open its link (from the e-mail's HTML, so the click comes from another site, as from webmail),
 * see the username, type the address the link was sent to, break the policy, choose a good
 * password, log in with it, and find the link dead. axe-core checks every page state; the
 * screenshots in docs/screenshots are made here.
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ParsedMail } from 'mailparser';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/browser.ts';
import { testConfig } from '../helpers/config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

const SCREENSHOTS = path.resolve('docs', 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [390, 1280];

const TEXT = {
  en: {
    request: 'Forgot your password?',
    email: 'E-mail address',
    send: 'Send me a link',
    sent: 'Check your e-mail',
    subject: 'Password reset for Dundie',
    choose: (u: string) => `Choose a new password for ${u}`,
    sentTo: 'E-mail address this link was sent to',
    password: 'New password',
    confirm: 'Type it again',
    change: 'Change password',
    policy: 'Do not use your username as your password.',
    mismatch: 'The two passwords are not the same.',
    done: 'Password changed',
    sessions: 'every other session has ended',
    notice: 'Your Dundie password was changed',
    expired: 'This link has expired or was already used',
    newLink: 'Send me a new link',
    code: 'Code from the e-mail',
    codeSubmit: 'Continue with the code',
    codeWrong: 'This code is not right, has expired, or was already used.',
  },
  'pt-BR': {
    request: 'Esqueceu sua senha?',
    email: 'Endereço de e-mail',
    send: 'Enviar o link',
    sent: 'Confira seu e-mail',
    subject: 'Redefinição de senha do Dundie',
    choose: (u: string) => `Escolha uma nova senha para ${u}`,
    sentTo: 'Endereço de e-mail que recebeu este link',
    password: 'Nova senha',
    confirm: 'Digite de novo',
    change: 'Trocar a senha',
    policy: 'Não use seu nome de usuário como senha.',
    mismatch: 'As duas senhas não são iguais.',
    done: 'Senha alterada',
    sessions: 'todas as outras sessões foram encerradas',
    notice: 'Sua senha do Dundie foi alterada',
    expired: 'Este link expirou ou já foi usado',
    newLink: 'Enviar um novo link',
    code: 'Código do e-mail',
    codeSubmit: 'Continuar com o código',
    codeWrong: 'Este código não está certo, expirou ou já foi usado.',
  },
} as const;
type Lang = keyof typeof TEXT;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function mailTo(smtp: SmtpSink, to: string, subject: string): Promise<ParsedMail> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = smtp.messages.find(
      (m) => m.subject === subject && !Array.isArray(m.to) && m.to?.value[0]?.address === to,
    );
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no "${subject}" e-mail to ${to}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** axe-core, run inside the page; evaluated (not a <script> tag), so the page's CSP stays as it is. */
async function assertAccessible(t: ExecutionContext, page: Page, state: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await (
      globalThis as unknown as {
        axe: { run(): Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> };
      }
    ).axe.run();
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  t.deepEqual(violations, [], `axe-core violations on ${state}`);
}

async function screenshots(page: Page, lang: Lang, state: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 600 ? 844 : 800 });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${state}-${lang}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Every entry of the tab's history (the address bar's past), through the DevTools protocol. */
async function historyUrls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const { entries } = await cdp.send('Page.getNavigationHistory');
  await cdp.detach();
  return entries.map((e: { url: string }) => e.url);
}

/** Opens the e-mail's link the way a person does: a click in the message, from another site. */
async function clickLinkIn(page: Page, mail: ParsedMail) {
  await page.goto('about:blank');
  await page.setContent(String(mail.html));
  await Promise.all([page.waitForURL(/\/reset_password$/), page.locator('a').first().click()]);
  await page.waitForLoadState('load');
}

if (!existsSync(CHROMIUM)) {
  test.skip(`reset pages in a browser: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`, () => {});
} else {
  let tdb: TestDatabase;
  let smtp: SmtpSink;
  let api: Api;
  let browser: Browser;

  test.before(async () => {
    tdb = await createTestDatabase('pages_browser');
    smtp = await startSmtpSink();
    const port = await freePort();
    const config = testConfig(tdb.url, {
      ...smtpEnv(smtp),
      PORT: String(port),
      DUNDIE_SERVER__PUBLIC_URL: `http://127.0.0.1:${port}`,
    });
    api = await startApi(config, { api: true, dispatcher: true });
    browser = await launchChromium();
  });
  test.after.always(async () => {
    await browser?.close();
    await api?.service.stop();
    await smtp?.close();
    await tdb?.drop();
  });

  const journey = (lang: Lang, javaScriptEnabled: boolean) => async (t: ExecutionContext) => {
    const say = TEXT[lang];
    const id = `${lang.toLowerCase().replace('-', '')}${javaScriptEnabled ? 'js' : 'nojs'}`;
    const user = await makeUser(tdb.db, { name: `Jim Halpert ${id}`, email: `jim-${id}@dm.com` });
    const good = `big-tuna-${id}-2026`;
    const context = await browser.newContext({
      javaScriptEnabled,
      locale: lang === 'en' ? 'en-US' : 'pt-BR',
      viewport: { width: 1280, height: 800 },
    });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    // A refused password answers 400 on purpose; Chromium reports that on the console too.
    page.on('console', (m) => m.type() === 'error' && !/status of 400/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    const audit = async (state: string) => {
      if (javaScriptEnabled) {
        await assertAccessible(t, page, `${state} (${lang})`);
        await screenshots(page, lang, state);
      }
    };

    // Forgot the password: the form, in the browser's language.
    await page.goto(`${api.base}/reset_password`);
    t.is(await page.locator('h1').innerText(), say.request);
    t.is(await page.locator('html').getAttribute('lang'), lang);
    await audit('request');
    await page.getByLabel(say.email).fill(user.email);
    await Promise.all([
      page.waitForURL(/\/reset_password\/sent$/),
      page.getByRole('button', { name: say.send }).click(),
    ]);
    t.is(await page.locator('h1').innerText(), say.sent);
    await audit('sent');

    // The mailbox: a real SMTP server; the link in the HTML part.
    const mail = await mailTo(smtp, user.email, say.subject);
    t.regex(mail.text ?? '', new RegExp(`${api.base}/reset_password\\?pwd_reset_token=`));

    await clickLinkIn(page, mail);
    t.is(page.url(), `${api.base}/reset_password`, 'the address bar holds no token');
    t.false(
      (await historyUrls(page)).some((u) => u.includes('pwd_reset_token')),
      'nor does the history',
    );
    t.is(await page.locator('h1').innerText(), say.choose(user.username));
    t.is(await page.locator('#whose-account strong').innerText(), user.username);
    await audit('choose');
    // The address the link was sent to; the page keeps it across the refusals below.
    await page.getByLabel(say.sentTo).fill(user.email);

    // A password against the policy (the username): the server says why, next to the field.
    if (!javaScriptEnabled) {
      await page.getByLabel(say.password).fill(good);
      await page.getByLabel(say.confirm).fill(`${good}-typo`);
      await page.getByRole('button', { name: say.change }).click();
      t.true((await page.locator('#password_confirm-error').innerText()).endsWith(say.mismatch));
    }
    await page.getByLabel(say.password).fill(user.username);
    await page.getByLabel(say.confirm).fill(user.username);
    await page.getByRole('button', { name: say.change }).click();
    await page.locator('#password-error').waitFor();
    t.true((await page.locator('#password-error').innerText()).endsWith(say.policy));
    t.is(await page.getByLabel(say.password).getAttribute('aria-invalid'), 'true');
    await audit('choose-error');

    // A good one: done, and what happens next.
    await page.getByLabel(say.password).fill(good);
    await page.getByLabel(say.confirm).fill(good);
    await Promise.all([
      page.waitForURL(/\/reset_password\/done$/),
      page.getByRole('button', { name: say.change }).click(),
    ]);
    t.is(await page.locator('h1').innerText(), say.done);
    t.true((await page.locator('main').innerText()).includes(say.sessions));
    await audit('done');

    const login = await api.request('POST', '/token', { form: { username: user.username, password: good } });
    t.is(login.status, 200);
    t.is((await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).status, 401);
    const notice = await mailTo(smtp, user.email, say.notice);
    t.truthy(notice);

    // The same link again: dead, said before anything is typed, with a way to ask anew.
    await clickLinkIn(page, mail);
    t.is(await page.locator('h1').innerText(), say.expired);
    t.true(await page.getByRole('button', { name: say.newLink }).isVisible());
    t.is(page.url(), `${api.base}/reset_password`);
    await audit('expired');

    t.deepEqual(problems, [], 'no console errors, no CSP refusals');
  };

  test.serial('English, with JavaScript: the whole reset journey', journey('en', true));
  test.serial('Portuguese, with JavaScript: the whole reset journey', journey('pt-BR', true));
  test.serial('English, without JavaScript: the whole reset journey', journey('en', false));
  test.serial('Portuguese, without JavaScript: the whole reset journey', journey('pt-BR', false));

  /** The other way through (issue 25): the code from the e-mail, typed on "Check your e-mail". */
  const codeJourney = (lang: Lang, javaScriptEnabled: boolean) => async (t: ExecutionContext) => {
    const say = TEXT[lang];
    const id = `code${lang.toLowerCase().replace('-', '')}${javaScriptEnabled ? 'js' : 'nojs'}`;
    const user = await makeUser(tdb.db, { name: `Dwight Schrute ${id}`, email: `dwight-${id}@dm.com` });
    const good = `beets-bears-${id}-2026`;
    const context = await browser.newContext({
      javaScriptEnabled,
      locale: lang === 'en' ? 'en-US' : 'pt-BR',
      viewport: { width: 1280, height: 800 },
    });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && !/status of 400/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));

    await page.goto(`${api.base}/reset_password`);
    await page.getByLabel(say.email).fill(user.email);
    await Promise.all([
      page.waitForURL(/\/reset_password\/sent$/),
      page.getByRole('button', { name: say.send }).click(),
    ]);
    // The address from the step before, filled in by the server.
    t.is(await page.getByLabel(say.email).inputValue(), user.email);
    const mail = await mailTo(smtp, user.email, say.subject);
    const code = /^(\d{8})$/m.exec(mail.text ?? '')![1]!;

    await page.getByLabel(say.code).fill(code === '00000000' ? '11111111' : '00000000');
    await page.getByRole('button', { name: say.codeSubmit }).click();
    await page.locator('#code-error').waitFor();
    t.true((await page.locator('#code-error').innerText()).startsWith(say.codeWrong));
    t.is(await page.getByLabel(say.code).getAttribute('aria-invalid'), 'true');
    if (javaScriptEnabled) {
      await assertAccessible(t, page, `code-error (${lang})`);
      await screenshots(page, lang, 'code-error');
    }

    await page.getByLabel(say.code).fill(`${code.slice(0, 4)} ${code.slice(4)}`);
    await Promise.all([
      page.waitForURL(/\/reset_password$/),
      page.getByRole('button', { name: say.codeSubmit }).click(),
    ]);
    t.is(await page.locator('h1').innerText(), say.choose(user.username));
    await page.getByLabel(say.sentTo).fill(user.email);
    await page.getByLabel(say.password).fill(good);
    await page.getByLabel(say.confirm).fill(good);
    await Promise.all([
      page.waitForURL(/\/reset_password\/done$/),
      page.getByRole('button', { name: say.change }).click(),
    ]);
    t.is(await page.locator('h1').innerText(), say.done);
    const login = await api.request('POST', '/token', { form: { username: user.username, password: good } });
    t.is(login.status, 200);
    // The e-mail's link died with its code.
    await clickLinkIn(page, mail);
    t.is(await page.locator('h1').innerText(), say.expired);
    t.deepEqual(problems, [], 'no console errors, no CSP refusals');
  };

  test.serial('English, with JavaScript: the journey by code', codeJourney('en', true));
  test.serial('Portuguese, with JavaScript: the journey by code', codeJourney('pt-BR', true));
  test.serial('Portuguese, without JavaScript: the journey by code', codeJourney('pt-BR', false));

  test.serial('the language switch changes the page and is remembered', async (t) => {
    const context = await browser.newContext({ locale: 'en-US' });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${api.base}/reset_password`);
    await page.getByRole('link', { name: 'Português (Brasil)' }).click();
    t.is(await page.locator('h1').innerText(), TEXT['pt-BR'].request);
    await page.goto(`${api.base}/reset_password`);
    t.is(await page.locator('html').getAttribute('lang'), 'pt-BR');
    // Focus is visible: the focused link gets an outline.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    t.is(outline, 'solid');
  });
}
