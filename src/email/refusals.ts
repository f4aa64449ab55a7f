/**
 * Which failures to send an e-mail are final for that message (retrying the same message would be
 * refused again) and which pass. Final: a 5xx reply to RCPT TO or DATA (RFC 5321: permanent
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

const PER_MESSAGE_COMMANDS = new Set(['RCPT TO', 'DATA']);

/** A sentence for `last_error` when the refusal is final, or undefined when trying again may help. */
export function permanentRefusal(err: unknown): string | undefined {
  const { code, command, responseCode, response, message } = (err ?? {}) as NodemailerError;
  if (
    typeof responseCode === 'number' &&
    responseCode >= 500 &&
    responseCode < 600 &&
    responseCode !== 503 &&
    PER_MESSAGE_COMMANDS.has(command ?? '')
  ) {
    return `SMTP server refused the message at ${command}: ${response ?? responseCode}`;
  }
  if (code === 'EENVELOPE' && command === 'API') return `the mailer refused the envelope: ${message}`;
  return undefined;
}
