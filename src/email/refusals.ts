/**
 * Which failures to send an e-mail are final for that message (retrying the same message would be
 * refused again) and which pass. Over HTTP: a 4xx answer other than 408 and 429. Final: a 5xx reply to RCPT TO or DATA (RFC 5321: permanent
 * negative completion, e.g. 550 no such mailbox), or an address nodemailer itself will not put in
 * an envelope. Everything else passes: 4xx replies, connection trouble, timeouts, and also 5xx
 * replies to the greeting, AUTH or MAIL FROM, which refuse every message alike (a wrong password,
 * a sender the relay will not take): an operator fixes those, and the rows should still be there.
 */

interface NodemailerError {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

import { HttpChannelError } from './httpChannel.ts';

const PER_MESSAGE_COMMANDS = new Set(['RCPT TO', 'DATA']);

/** A 5xx reply (503, bad sequence, aside) to RCPT TO or DATA: this message, or its recipient, refused for good. */
function refusedAtRecipientOrData(err: unknown): boolean {
  const { command, responseCode } = (err ?? {}) as NodemailerError;
  return (
    typeof responseCode === 'number' &&
    responseCode >= 500 &&
    responseCode < 600 &&
    responseCode !== 503 &&
    PER_MESSAGE_COMMANDS.has(command ?? '')
  );
}

/** A sentence for `last_error` when the refusal is final, or undefined when trying again may help. */
export function permanentRefusal(err: unknown): string | undefined {
  const { code, command, responseCode, response, message } = (err ?? {}) as NodemailerError;
  if (refusedAtRecipientOrData(err))
    return `SMTP server refused the message at ${command}: ${response ?? responseCode}`;
  if (code === 'EENVELOPE' && command === 'API') return `the mailer refused the envelope: ${message}`;
  // A 4xx other than 408 and 429 from the http transport's endpoint: it will refuse the same message again.
  if (err instanceof HttpChannelError && err.permanent) return err.message;
  return undefined;
}

/** No connection was made (nodemailer keeps the system error as `originalCode`), or no envelope. */
const NOTHING_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EDNS', 'EENVELOPE']);

/**
 * Whether the failure surely delivered nothing: the server answered with a refusal (any reply
 * code, DATA's included; over HTTP, any status), or no conversation took place. A timeout or a
 * connection closed after DATA is not: the message may have been accepted.
 */
export function surelyNotDelivered(err: unknown): boolean {
  // Over HTTP, an answer that is not 2xx is the endpoint saying it did not take the message.
  if (err instanceof HttpChannelError) return err.status !== undefined;
  const { code, originalCode, responseCode } = (err ?? {}) as NodemailerError & { originalCode?: string };
  return typeof responseCode === 'number' || NOTHING_SENT_CODES.has(originalCode ?? code ?? '');
}

/** HTTP answers that say the recipient, not the message or the caller, is refused for good. */
const RECIPIENT_GONE_STATUSES = new Set([410, 422]);

/**
 * Whether the refusal is of the recipient for good, so that later e-mails to the address should
 * not be tried (a suppression): an SMTP 5xx to RCPT TO or DATA, or the http transport's 410 Gone or
 * 422 (how e-mail providers' APIs answer an inactive or invalid recipient).
 */
export function recipientRefused(err: unknown): boolean {
  if (err instanceof HttpChannelError) return err.status !== undefined && RECIPIENT_GONE_STATUSES.has(err.status);
  return refusedAtRecipientOrData(err);
}
