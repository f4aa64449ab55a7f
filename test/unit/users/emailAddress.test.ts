import test from 'ava';
import { addressparser, recipients } from '../../../src/email/recipients.ts';
import { isSingleMailbox } from '../../../src/users/emailAddress.ts';

test('one plain mailbox passes, spelled as given', (t) => {
  for (const address of ['mscott@dm.com', 'MSCOTT@DM.com', 'a.b+tag@sub.dm.com', "o'brien@dm.com", 'josé@dm.com']) {
    t.true(isSingleMailbox(address), address);
  }
});

test('anything that is not exactly one plain mailbox is refused', (t) => {
  for (const address of [
    'comma,attacker@evil.com',
    'angle<attacker@evil.com>',
    'Name <me@dm.com>',
    'me@dm.com (comment)',
    '"quoted"@dm.com',
    'a@dm.com, b@dm.com',
    'a@dm.com;b@dm.com',
    'group: a@dm.com;',
    'a@@dm.com',
    'a@dm',
    '.a@dm.com',
    'a..b@dm.com',
    'a@-dm.com',
    ' a@dm.com',
    'a@dm.com\r\nBcc: x@evil.com',
    'a\u00a0b@dm.com',
    'a\u200bb@dm.com',
    `${'a'.repeat(65)}@dm.com`,
    `a@${'d'.repeat(250)}.com`,
  ]) {
    t.false(isSingleMailbox(address), JSON.stringify(address));
  }
});

test("recipients() reads an address field as nodemailer's sender does", (t) => {
  t.deepEqual(recipients('comma,attacker@evil.com'), ['attacker@evil.com']);
  t.deepEqual(recipients('a@dm.com, b@dm.com'), ['a@dm.com', 'b@dm.com']);
  t.deepEqual(recipients('g: a@dm.com, b@dm.com;'), ['a@dm.com', 'b@dm.com']);
});

test('a mailbox of letters, digits and ._+- is read by addressparser as itself (what spares it the parse)', (t) => {
  const alphabet = 'abcXYZ019._+-';
  const pick = (n: number) =>
    Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    const address = `${pick(1 + (i % 12))}@${pick(1 + (i % 7))}.${pick(2 + (i % 4))}`;
    if (!isSingleMailbox(address)) continue;
    checked++;
    const parsed = addressparser(address);
    t.is(parsed.length, 1, address);
    t.like(parsed[0], { name: '', address }, address);
  }
  t.true(checked > 500);
});
