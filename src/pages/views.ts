/**
 * Server-side rendering of the pages with LiquidJS, the engine the e-mails use, from
 * `templates/pages/`. Every value is HTML-escaped on output, and an undefined variable is an
 * error rather than a blank: a string missing from a catalog fails the render (and the tests).
 */
import { Liquid } from 'liquidjs';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/passwordPolicy.ts';
import { templatesDir } from '../paths.ts';
import { catalog, format, LOCALE_NAMES, LOCALES, type Locale } from './i18n.ts';

export const PAGES = ['request', 'sent', 'continue', 'choose', 'expired', 'done', 'message'] as const;
export type PageName = (typeof PAGES)[number];

const liquid = new Liquid({
  root: templatesDir,
  extname: '.liquid',
  cache: true,
  strictVariables: true,
  // `{% if errors.password %}` asks whether there is one; it is no undefined-variable mistake.
  lenientIf: true,
  outputEscape: 'escape',
});

export interface PageView {
  /** The catalog key of the page's title; `{name}` placeholders are filled from `vars`. */
  title: string;
  /** Where the language switch links to (a GET path). */
  path?: string;
  vars?: Record<string, unknown>;
}

/** One page in one language, as a complete HTML document. */
export function renderPage(
  name: PageName,
  locale: Locale,
  { title, path = '/reset_password', vars = {} }: PageView,
): Promise<string> {
  const t = catalog(locale);
  const titleText = t[title];
  if (titleText === undefined) throw new Error(`no "${title}" in the ${locale} catalog`);
  return liquid.renderFile(`pages/${name}`, {
    t,
    lang: locale,
    path,
    languages: LOCALES.map((code) => ({ code, name: LOCALE_NAMES[code], current: code === locale })),
    title: format(titleText, Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]))),
    refresh: false,
    errors: {},
    email: '',
    min: PASSWORD_MIN_LENGTH,
    max: PASSWORD_MAX_LENGTH,
    ...vars,
  });
}
