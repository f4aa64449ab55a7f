import test from 'ava';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { composeMime, type MimeMessage } from '../../../src/email/mime.ts';

const token = 'eyJhbGciOiJIUzI1NiJ9.' + 'x'.repeat(300);
const messages: Record<string, MimeMessage> = {
  'a reset e-mail in English': {
    from: 'Dundie <no-reply@dm.com>',
    to: 'pam@dm.com',
    subject: 'Password reset for Dundie',
    text: `Please use the following link:\nhttp://localhost:8000/reset?pwd_reset_token=${token}\n\nThis link will expire in 10 minutes.\n`,
    html: `<p>Please use <a href="http://localhost:8000/reset?pwd_reset_token=${token}">this link</a>.</p>\n`,
  },
  'accents in the subject and the body': {
    from: 'Dundie <no-reply@dm.com>',
    to: 'pam@dm.com',
    subject: 'Redefinição de senha do Dundie',
    text: 'Use o link abaixo para redefinir sua senha.\nEste link expira em 10 minutos.\n',
    html: '<p>Olá, você pediu uma nova senha.</p>',
  },
  'a display name that needs quoting or encoding, an internationalized domain': {
    from: 'Dunder Mifflin, Scranton <no-reply@dm.com>',
    to: 'pam@bücher.example',
    subject: 'Ünïcödé ✓ and a subject long enough to be folded over more than one header line, surely',
    text: 'only text',
  },
  'a non-ASCII sender name and local part': {
    from: 'Dwight Schrüte <dwight@dm.com>',
    to: 'jürgen@dm.com',
    subject: 'Hi',
    text: 'body',
  },
  'lines that SMTP or MIME treat specially': {
    from: 'no-reply@dm.com',
    to: 'pam@dm.com',
    subject: 'dots',
    text: '.\n.leading dot\nFrom the start\ntrailing space \r\nCRLF\r\n--boundary-looking line--\n',
    html: '<pre>\n.\n</pre>',
  },
};

const parse = async (raw: string | Buffer) => simpleParser(raw);
const address = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((a) => a.value.map((v) => ({ name: v.name, address: v.address })));
const shape = (mail: ParsedMail) => ({
  from: address(mail.from),
  to: address(mail.to),
  subject: mail.subject,
  text: mail.text,
  html: mail.html || undefined,
});

for (const [name, message] of Object.entries(messages)) {
  test(`composed like nodemailer composes it: ${name}`, async (t) => {
    const ours = composeMime(message);
    const theirs = await new MailComposer(message).compile().build();
    t.deepEqual(shape(await parse(ours.raw)), shape(await parse(theirs)));
    const parsed = await parse(ours.raw);
    t.is(parsed.messageId, ours.messageId);
    t.truthy(parsed.date);
  });

  test(`every line fits SMTP, and only CRLF ends a line: ${name}`, (t) => {
    const { raw } = composeMime(message);
    t.false(/\r(?!\n)|(?<!\r)\n/.test(raw), 'a bare CR or LF');
    const [head, ...body] = raw.split('\r\n\r\n');
    for (const line of head!.split('\r\n')) t.true(line.length <= 998, line);
    for (const line of body.join('\r\n\r\n').split('\r\n')) t.true(line.length <= 76, line);
    t.true(/^[\x20-\x7e\t\r\n]*$/.test(raw.replace(/^(To|From): .*$/gm, '')), 'non-ASCII outside an address');
  });
}

test('a bare CR or LF in a body is a line break, as the SMTP data stream makes it', async (t) => {
  const { raw } = composeMime({ from: 'a@dm.com', to: 'b@dm.com', subject: 's', text: 'one\rtwo\nthree\r\n' });
  t.is((await parse(raw)).text, 'one\ntwo\nthree\n');
});

test('a header value cannot start a header of its own (CR, LF, or both)', async (t) => {
  for (const breakIn of ['\r\n', '\n', '\r']) {
    const { raw } = composeMime({
      from: `no-reply@dm.com${breakIn}Bcc: evil@example.com`,
      to: `pam@dm.com${breakIn}Bcc: evil@example.com`,
      subject: `Hi${breakIn}Bcc: evil@example.com`,
      text: 'body',
    });
    const parsed = await parse(raw);
    t.false(parsed.headers.has('bcc'), JSON.stringify(breakIn));
    t.false(/^Bcc:/im.test(raw.slice(0, raw.indexOf('\r\n\r\n'))));
  }
});

test('the message id names the sender domain and differs per message', (t) => {
  const message = messages['a reset e-mail in English']!;
  const a = composeMime(message).messageId;
  const b = composeMime(message).messageId;
  t.regex(a, /^<[0-9a-f-]{36}@dm\.com>$/);
  t.not(a, b);
});

test('the envelope is the one nodemailer makes for its own message, recipient for recipient', (t) => {
  const cases = [
    ...Object.values(messages),
    // A bare word is a display name in the header; read as an envelope string it would be a recipient.
    { from: 'no-reply@dm.com', to: 'pam@dm.com, bob', subject: 's', text: 'x' },
    { from: 'no-reply@dm.com', to: 'bob; pam@dm.com', subject: 's', text: 'x' },
    { from: 'Dundie <no-reply@dm.com>', to: 'pam@dm.com, jim@dm.com', subject: 's', text: 'x' },
  ];
  for (const message of cases) {
    t.deepEqual(composeMime(message).envelope, new MailComposer({ ...message }).compile().getEnvelope(), message.to);
  }
  const bareWord = { from: 'no-reply@dm.com', to: 'pam@dm.com, bob', subject: 's', text: 'x' };
  t.deepEqual(composeMime(bareWord).envelope.to, ['pam@dm.com']);
});
