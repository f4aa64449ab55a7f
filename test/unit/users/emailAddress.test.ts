import test from 'ava';
import { recipients } from '../../../src/email/recipients.ts';
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
