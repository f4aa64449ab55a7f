/**
 * Languages: a missing translation is a failing test, not a blank on a page.
 * No database, no network: catalogs, templates and the policy table only.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config.ts';
import { catalog, LOCALES, negotiateLocale, policyKey } from '../../../src/pages/i18n.ts';
import { PREVIEWS, renderPreview } from '../../../src/pages/preview.ts';
import { templatesDir } from '../../../src/paths.ts';
import { passwordProblem } from '../../../src/users/passwordPolicy.ts';

test('every language has every page string, none of them empty', (t) => {
  const english = Object.keys(catalog('en')).sort();
  for (const locale of LOCALES) {
    t.deepEqual(Object.keys(catalog(locale)).sort(), english, `${locale} has the same keys as en`);
    for (const [key, text] of Object.entries(catalog(locale)))
      t.true(text.trim().length > 0, `${locale}.${key} is empty`);
  }
});

test('every string a page template asks for is in the catalogs', (t) => {
  const pages = path.join(templatesDir, 'pages');
  const asked = new Set<string>();
  for (const file of readdirSync(pages)) {
    for (const m of readFileSync(path.join(pages, file), 'utf8').matchAll(/\bt\.(\w+)/g)) asked.add(m[1]!);
  }
  t.true(asked.size > 10);
  for (const locale of LOCALES) for (const key of asked) t.true(key in catalog(locale), `${locale} lacks "${key}"`);
});

test('every e-mail has a Portuguese twin, text and HTML', (t) => {
  const emails = readdirSync(templatesDir).filter((f) => f.endsWith('.liquid'));
  t.true(emails.length >= 4);
  for (const file of emails)
    t.true(existsSync(path.join(templatesDir, 'pt-BR', file)), `templates/pt-BR/${file} is missing`);
});

test('every rule of the password policy can be said in every language', (t) => {
  const owner = { username: 'michael-scott', email: 'mscott@dm.com' };
  const problems = ['short', 'x'.repeat(200), 'michael-scott', 'mscott@dm.com', 'qwertyuiop'].map((p) =>
    passwordProblem(p, owner),
  );
  t.is(new Set(problems).size, problems.length, 'one sample per rule');
  for (const problem of problems) {
    t.truthy(problem);
    const key = policyKey(problem!);
    t.truthy(key, `no translation for "${problem}"`);
    for (const locale of LOCALES) t.true(key! in catalog(locale));
  }
});

test('Accept-Language picks the best language we speak', (t) => {
  t.is(negotiateLocale('pt-BR,pt;q=0.9,en-US;q=0.8'), 'pt-BR');
  t.is(negotiateLocale('pt-PT'), 'pt-BR');
  t.is(negotiateLocale('de-DE,en;q=0.5,pt;q=0.4'), 'en');
  t.is(negotiateLocale('en;q=0.2, pt-br;q=0.7'), 'pt-BR');
  t.is(negotiateLocale('fr, de'), undefined);
  t.is(negotiateLocale('pt;q=0, en'), 'en');
  t.is(negotiateLocale('*'), undefined);
  t.is(negotiateLocale(undefined), undefined);
});

test('every e-mail and page state renders in every language (dundie preview)', async (t) => {
  const config = loadConfig({ DUNDIE_DATA_DIR: '/nonexistent', DUNDIE_SECURITY__SECRET_KEY: 'unit-test-secret' });
  for (const name of PREVIEWS) {
    for (const locale of LOCALES) {
      const preview = await renderPreview(name, locale, config);
      if (preview.kind === 'page') {
        t.regex(preview.html, new RegExp(`<html lang="${locale}">`), `${name} ${locale}`);
        t.notRegex(preview.html, /undefined|\{\w+\}/, `${name} ${locale} has a hole`);
      } else {
        t.true(preview.mail.subject.length > 0);
        t.regex(preview.mail.html ?? '', new RegExp(`<html lang="${locale}">`), `${name} ${locale}`);
        t.notRegex(preview.mail.text, /undefined/);
      }
    }
  }
});
