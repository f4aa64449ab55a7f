/**
 * What an e-mail address may be, decided by the parser that will read it when the e-mail goes
 * out: nodemailer's own `addressparser`. A stored address must parse to exactly one mailbox,
 * spelled exactly as given: no second recipient (`comma,attacker@evil.com`), no display name
 * (`angle<attacker@evil.com>`), no comment, no group, no quoting. Checking with the sender's parser
 * rather than another library means "one mailbox" here is "one recipient" there, by construction.
 */
import { addressparser } from '../email/recipients.ts';

export const EMAIL_MAX_LENGTH = 254;

// RFC 5322 dot-atom for the local part (plus UTF-8 for SMTPUTF8 mailboxes), a dotted host name;
// no white space, control or format character anywhere (\p{C} also holds lone surrogates).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u{80}-\\u{10FFFF}-]";
const ALNUM = '[A-Za-z0-9\\u{80}-\\u{10FFFF}]';
const LABEL = `${ALNUM}(?:(?:${ALNUM}|-)*${ALNUM})?`;
const MAILBOX = new RegExp(
  `^(?![^]*[\\p{White_Space}\\p{C}])${ATEXT}+(?:\\.${ATEXT}+)*@${LABEL}(?:\\.${LABEL})+$`,
  'u',
);

// Letters, digits and `._+-` only: none of them is structure to addressparser (no quote, bracket,
// comma, colon, semicolon, space or encoded word), so such a mailbox can only parse to itself and
// is spared the parse. A unit test holds addressparser to that.
const PLAIN = /^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$/;

/** Why `value` is not one plain mailbox, or undefined when it is. */
export function mailboxProblem(value: string): string | undefined {
  if (value.length > EMAIL_MAX_LENGTH)
    return `value is not a valid email address: at most ${EMAIL_MAX_LENGTH} characters`;
  const local = value.slice(0, value.lastIndexOf('@'));
  if (!MAILBOX.test(value) || local.length > 64) return 'value is not a valid email address';
  if (PLAIN.test(value)) return undefined;
  const parsed = addressparser(value);
  const [only] = parsed;
  if (parsed.length !== 1 || !only || 'group' in only || only.name !== '' || only.address !== value) {
    return 'value is not a valid email address: one mailbox, without a name or comment';
  }
  return undefined;
}

export const isSingleMailbox = (value: string) => mailboxProblem(value) === undefined;
