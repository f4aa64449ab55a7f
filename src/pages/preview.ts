/**
 * `dundie preview <template>`: any e-mail (text and HTML parts) or page rendered with sample
 * data, in any language, for whoever edits `templates/` (Rails' mailer previews). Nothing is
 * sent, nothing touches the database. The unit tests render every one of these in every language.
 */
import type { Settings } from '../config.ts';
import { createMailer, localizedTemplate, type Mail } from '../email/mailer.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/passwordPolicy.ts';
import { catalog, format, translatePolicy, type Locale } from './i18n.ts';
import { renderPage, type PageName, type PageView } from './views.ts';

export const EMAIL_PREVIEWS = ['pwd_reset_email', 'pwd_changed_email'] as const;

const SAMPLE_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.SAMPLE-TOKEN.not-a-real-signature';

/** Page states by name, each with the data a real request would give it. */
export const PAGE_PREVIEWS: Record<string, (locale: Locale, config: Settings) => [PageName, PageView]> = {
  request: () => ['request', { title: 'request_title' }],
  'request-invalid': (l) => [
    'request',
    { title: 'request_title', vars: { email: 'mscott@', errors: { email: catalog(l).email_invalid } } },
  ],
  'request-too-many': () => ['request', { title: 'request_title', vars: { email: 'mscott@dm.com', retry_after: 42 } }],
  sent: (_l, c) => [
    'sent',
    { title: 'sent_title', path: '/reset_password/sent', vars: { minutes: c.security.RESET_TOKEN_EXPIRE_MINUTES } },
  ],
  continue: () => ['continue', { title: 'continue_title', vars: { refresh: '/reset_password' } }],
  choose: () => ['choose', { title: 'choose_title', vars: { username: 'michael-scott', name: 'Michael Scott' } }],
  'choose-errors': (l) => [
    'choose',
    {
      title: 'choose_title',
      vars: {
        username: 'michael-scott',
        name: 'Michael Scott',
        email: 'jim@dm.com',
        errors: {
          email: format(catalog(l).sent_to_mismatch!, { username: 'michael-scott' }),
          password: translatePolicy(l, 'Password must not be the username', {
            min: PASSWORD_MIN_LENGTH,
            max: PASSWORD_MAX_LENGTH,
          }),
          password_confirm: catalog(l).mismatch,
        },
      },
    },
  ],
  expired: (_l, c) => ['expired', { title: 'expired_title', vars: { minutes: c.security.RESET_TOKEN_EXPIRE_MINUTES } }],
  done: () => ['done', { title: 'done_title', path: '/reset_password/done' }],
  forbidden: (l) => ['message', { title: 'forbidden_title', vars: { body: catalog(l).forbidden_body } }],
  error: (l) => ['message', { title: 'error_title', vars: { body: catalog(l).error_body } }],
};

export const PREVIEWS = [...EMAIL_PREVIEWS, ...Object.keys(PAGE_PREVIEWS).map((name) => `pages/${name}`)];

export type Preview = { kind: 'page'; html: string } | { kind: 'email'; template: string; mail: Mail };

function emailVars(template: string, config: Settings): Record<string, unknown> {
  const common = { sender: config.email.smtp_sender, to: 'mscott@dm.com', url: config.security.PWD_RESET_URL };
  if (template === 'pwd_reset_email')
    return {
      ...common,
      pwd_reset_token: SAMPLE_TOKEN,
      code: '04719385',
      expire: config.security.RESET_TOKEN_EXPIRE_MINUTES,
    };
  return {
    ...common,
    username: 'michael-scott',
    changed_at: '2026-11-26 09:30:00 UTC',
    how: 'code',
    client: '203.0.113.9',
  };
}

/** Renders `name` (an e-mail kind, or `pages/<state>`) in `locale`; throws for an unknown name. */
export async function renderPreview(name: string, locale: Locale, config: Settings): Promise<Preview> {
  const state = name.replace(/^pages\//, '');
  if ((EMAIL_PREVIEWS as readonly string[]).includes(name)) {
    const template = localizedTemplate(name, locale);
    // Debug mode: a mailer that renders and never connects to anything.
    const mailer = createMailer({ ...config.email, TRANSPORT: 'log' });
    return { kind: 'email', template, mail: await mailer.render(template, emailVars(name, config)) };
  }
  const page = PAGE_PREVIEWS[state];
  if (!page) throw new Error(`no template "${name}" to preview; one of: ${PREVIEWS.join(', ')}`);
  const [pageName, view] = page(locale, config);
  return { kind: 'page', html: await renderPage(pageName, locale, view) };
}
