import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createMailer, parseRendered } from '../../../src/email/mailer.ts';
import { testConfig } from '../../helpers/config.ts';

test('a rendered template splits into From, To, Subject and the body', (t) => {
  const mail = parseRendered('From: Dundie <a@dm.com>\r\nTo: b@dm.com\nSubject: Hi\n\nBody line\n');
  t.like(mail, { from: 'Dundie <a@dm.com>', to: 'b@dm.com', subject: 'Hi', text: 'Body line\n' });
});

test('a template without the blank line or a header is an error, not a broken e-mail', (t) => {
  t.throws(() => parseRendered('From: a\nTo: b\nSubject: c'), { message: /no blank line/ });
  t.throws(() => parseRendered('From: a\nSubject: c\n\nbody'), { message: /no to header/ });
});

test('the reset e-mail renders as SPEC §5 shows it, and debug mode appends it to the log file', async (t) => {
  const config = testConfig('postgres://unused@localhost/none');
  const mailer = createMailer(config.email);
  await mailer.send('pwd_reset_email', {
    sender: 'no-reply@dm.com',
    to: 'pam@dm.com',
    url: 'http://localhost:8000/reset_password',
    pwd_reset_token: 'T0KEN',
    code: '04719385',
    expire: 10,
  });
  const log = readFileSync(config.email.log_file, 'utf8');
  t.regex(
    log,
    /^--- START EMAIL pam@dm\.com ---\nFrom: Dundie <no-reply@dm\.com>\nTo: pam@dm\.com\nSubject: Password reset for Dundie\n/,
  );
  t.regex(log, /http:\/\/localhost:8000\/reset_password\?pwd_reset_token=T0KEN/);
  // The link stays the first thing the e-mail offers; the code comes after it.
  t.regex(log, /pwd_reset_token=T0KEN\n\nOr type this code on the reset page, with your e-mail address:\n04719385\n/);
  t.regex(log, /This link will expire in 10 minutes\.\n--- END OF EMAIL ---\n$/);
});

test('HTML parts escape every value', async (t) => {
  const mailer = createMailer(
    { ...testConfig('postgres://unused@localhost/none').email, debug_mode: false },
    { templates: path.resolve('templates') },
  );
  t.teardown(() => mailer.close());
  const mail = await mailer.render('pwd_changed_email', {
    sender: 'no-reply@dm.com',
    to: 'pam@dm.com',
    username: '<script>alert(1)</script>',
    changed_at: '2026-01-01 00:00:00 UTC',
    url: 'http://localhost:8000/reset_password',
    how: 'code',
    client: '<b>203.0.113.9</b>',
  });
  t.truthy(mail.html);
  t.false(mail.html!.includes('<script>alert(1)</script>'));
  t.true(mail.html!.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  t.true(mail.html!.includes('from the address &lt;b&gt;203.0.113.9&lt;/b&gt;'));
});
