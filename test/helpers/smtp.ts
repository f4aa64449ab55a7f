/**
 * A real SMTP server in the test process (the `smtp-server` package). It keeps every message it
 * accepts, parsed, and can be told to refuse messages, to test retries.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  port: number;
  messages: ParsedMail[];
  /** The envelope recipient of every accepted message, parsed or not. */
  recipients: string[];
  /** How many messages were offered, accepted or not. */
  attempts: number;
  /** Return true to refuse the nth (1-based) message offered with 451, or the reply code to refuse it with. */
  refuse: (n: number) => boolean | number;
  /** Milliseconds to hold each message before answering (a slow server), or per recipient. */
  delayMs: number | ((to: string) => number);
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpSink(
  refuse: (n: number) => boolean | number = () => false,
  delayMs: SmtpSink['delayMs'] = 0,
  port = 0,
  { parse = true } = {},
): Promise<SmtpSink> {
  const sink: SmtpSink = {
    port: 0,
    messages: [],
    recipients: [],
    attempts: 0,
    refuse,
    delayMs,
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (sink.recipients.length < count) {
        if (Date.now() > deadline)
          throw new Error(`SMTP sink: ${sink.recipients.length} of ${count} messages after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return sink.messages;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // No reverse DNS for 127.0.0.1 on a machine without a network: it would stall every connection.
    disableReverseLookup: true,
    onData(stream, session, callback) {
      const n = ++sink.attempts;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const to = session.envelope.rcptTo[0]?.address ?? '';
        const delay = typeof sink.delayMs === 'function' ? sink.delayMs(to) : sink.delayMs;
        if (delay) await new Promise((r) => setTimeout(r, delay));
        const refusal = sink.refuse(n);
        if (refusal) {
          callback(
            Object.assign(new Error('mailbox unavailable (test refusal)'), {
              responseCode: refusal === true ? 451 : refusal,
            }),
          );
          return;
        }
        sink.recipients.push(to);
        if (parse) sink.messages.push(await simpleParser(Buffer.concat(chunks)));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  sink.port = (server.server.address() as { port: number }).port;
  return sink;
}

/** The settings that point the mailer at `sink` (SMTP mode, debug off). */
export function smtpEnv(sink: Pick<SmtpSink, 'port'>): Record<string, string> {
  return {
    DUNDIE_EMAIL__DEBUG_MODE: 'false',
    DUNDIE_EMAIL__SMTP_SERVER: '127.0.0.1',
    DUNDIE_EMAIL__SMTP_PORT: String(sink.port),
  };
}
