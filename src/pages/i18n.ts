/**
 * The languages of the pages and e-mails: English and Brazilian Portuguese. Page strings live in
 * `templates/locales/<locale>.json`, one catalog per language with the same keys (a unit test
 * compares them); e-mails have one template per language (`templates/pt-BR/…`, English at the
 * top of `templates/`, the shape SPEC §5 gives). API answers stay English: clients match on them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { templatesDir } from '../paths.ts';

import type { Locale } from '../locales.ts';

export { isLocale, LOCALES, negotiateLocale, type Locale } from '../locales.ts';

/** What the language switch shows, each in its own language. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'pt-BR': 'Português (Brasil)' };

export type Catalog = Readonly<Record<string, string>>;

const catalogs = new Map<Locale, Catalog>();

/** The page strings of one language, read once. */
export function catalog(locale: Locale): Catalog {
  let strings = catalogs.get(locale);
  if (!strings) {
    strings = Object.freeze(
      JSON.parse(readFileSync(path.join(templatesDir, 'locales', `${locale}.json`), 'utf8')) as Record<string, string>,
    );
    catalogs.set(locale, strings);
  }
  return strings;
}

/** `{name}` placeholders filled in. */
export const format = (text: string, vars: Record<string, string | number> = {}) =>
  text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));

/**
 * The password policy's sentences (`passwordProblem`, English for the API) as catalog keys, so
 * the page can say them in the person's language. A unit test feeds every rule through this
 * table: a new rule without a translation fails it.
 */
const POLICY_KEYS: [RegExp, string][] = [
  [/^Password must be at least/, 'policy_too_short'],
  [/^Password must be at most/, 'policy_too_long'],
  [/^Password must not be the username/, 'policy_username'],
  [/^Password must not be the e-mail/, 'policy_email'],
  [/^Password is too common/, 'policy_common'],
];

export function policyKey(problem: string): string | undefined {
  return POLICY_KEYS.find(([pattern]) => pattern.test(problem))?.[1];
}

/** A policy problem in `locale`; the English sentence itself if no key matches (a test fails then). */
export function translatePolicy(locale: Locale, problem: string, vars: Record<string, number>): string {
  const key = policyKey(problem);
  return key ? format(catalog(locale)[key] ?? problem, vars) : problem;
}
