/**
 * The MIME text of one e-mail, built in one synchronous pass. nodemailer's composer builds a tree
 * of streams per message (the dispatcher's largest cost over SMTP, docs/performance.md) for a
 * message that always has the same shape: a text part, and an HTML alternative when the template
 * has one. The encoding is still nodemailer's: header values go through its
 * `MimeNode.encodeHeaderValue` (addresses punycoded, words RFC 2047-encoded) and `foldLines`,
 * bodies through its quoted-printable encoder; only the assembly is ours.
 */
import { randomUUID } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { randomText } from '../randomText.ts';

export interface MimeMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  date?: Date;
}

// Its encodeHeaderValue keeps no state between calls; one node spares a node (and its random
// boundary) per header.
const encoder = new MimeNode();
const encodedHeader = (key: string, value: string) => foldLines(`${key}: ${encoder.encodeHeaderValue(key, value)}`, 76);

/** What is the same in every e-mail of a template and language (sender, subject): worked out once. */
const memo = new Map<string, string>();
function once(key: string, make: () => string): string {
  let value = memo.get(key);
  if (value === undefined) {
    if (memo.size >= 256) memo.clear();
    value = make();
    memo.set(key, value);
  }
  return value;
}

// Printable ASCII, tab and line breaks only, in lines of at most 76 characters: sent as it is.
const SEVEN_BIT = /^[\t\r\n\x20-\x7e]*$/;
function shortLines(crlf: string): boolean {
  for (let start = 0; start < crlf.length;) {
    const end = crlf.indexOf('\r\n', start);
    if ((end < 0 ? crlf.length : end) - start > 76) return false;
    if (end < 0) break;
    start = end + 2;
  }
  return true;
}

/**
 * A body part's headers and content, 7bit when it can be, else quoted-printable. Every line ends
 * in CRLF: a bare CR or LF is a line break, as SMTP's data stream would make it anyway.
 */
function bodyPart(type: 'plain' | 'html', content: string): string {
  const crlf = content.replace(/\r\n|\r|\n/g, '\r\n');
  const plain = SEVEN_BIT.test(crlf) && shortLines(crlf);
  return (
    `Content-Type: text/${type}; charset=utf-8\r\n` +
    `Content-Transfer-Encoding: ${plain ? '7bit' : 'quoted-printable'}\r\n\r\n` +
    (plain ? crlf : qpWrap(qpEncode(crlf), 76))
  );
}

/**
 * The SMTP envelope nodemailer makes of the From and To headers for a message it composes. Given
 * as strings instead, it would read them by other rules (a bare `bob` in `pam@dm.com, bob` is a
 * recipient there, a display name in the header). The sender is the same for every e-mail.
 */
function envelopeOf(from: string, to: string): { from: string; to: string[] } {
  const sender = once(`sender\n${from}`, () => new MimeNode().setHeader('From', from).getEnvelope().from || '');
  return { from: sender, to: new MimeNode().setHeader('To', to).getEnvelope().to };
}

/** `<uuid@domain of the sender>`, as nodemailer makes it. */
function newMessageId(sender: string): string {
  const domain = once(`domain\n${sender}`, () => domainToASCII(sender.slice(sender.lastIndexOf('@') + 1)));
  return `<${randomUUID()}@${domain || 'localhost'}>`;
}

/** The whole message, headers and body, to hand to nodemailer as `raw` with its `messageId` and `envelope`. */
export function composeMime({ from, to, subject, text, html, date = new Date() }: MimeMessage): {
  raw: string;
  messageId: string;
  envelope: { from: string; to: string[] };
} {
  const envelope = envelopeOf(from, to);
  const messageId = newMessageId(envelope.from);
  const headers = [
    once(`From\n${from}`, () => encodedHeader('From', from)),
    encodedHeader('To', to),
    once(`Subject\n${subject}`, () => encodedHeader('Subject', subject)),
    `Message-ID: ${messageId}`,
    `Date: ${date.toUTCString().replace(/GMT/, '+0000')}`,
    'MIME-Version: 1.0',
  ].join('\r\n');
  if (html === undefined) {
    const part = bodyPart('plain', text);
    return { messageId, envelope, raw: `${headers}\r\n${part}${part.endsWith('\r\n') ? '' : '\r\n'}` };
  }
  // 96 random bits: a body holds it only by a guess.
  const boundary = `--_Dundie_${randomText(12, 'hex')}`;
  const raw =
    `${headers}\r\nContent-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n\r\n` +
    `--${boundary}\r\n${bodyPart('plain', text)}\r\n` +
    `--${boundary}\r\n${bodyPart('html', html)}\r\n` +
    `--${boundary}--\r\n`;
  return { messageId, envelope, raw };
}
