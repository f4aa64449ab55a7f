/**
 * A reference receiver for Dundie's `http` e-mail transport: it checks each POST's Standard
 * Webhooks signature and timestamp, drops a message id it has seen, and hands the message on (here:
 * prints it). Copy it into your own sender, or run it to watch what Dundie posts:
 *
 *   DUNDIE_EMAIL__HTTP_SECRET=whsec_... npx tsx docs/examples/emailReceiver.ts 8025
 *
 * and start Dundie with DUNDIE_EMAIL__TRANSPORT=http, DUNDIE_EMAIL__HTTP_URL=http://localhost:8025/
 * and the same secret. Answer 2xx once the message is handed on, 503 with Retry-After when your
 * provider is away (Dundie tries again no sooner), and 422 for a message you will never send
 * (Dundie gives it up at once).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** A message older or newer than this (seconds) is refused: a replay, or a clock far off. */
const TOLERANCE_SECONDS = 5 * 60;

export interface ReceivedMessage {
  id: string;
  kind: string;
  locale: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/**
 * The message of a POST whose headers sign `body` with `secret`; throws if they do not. Compares
 * each `v1,` signature the header lists in constant time.
 */
export function verify(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): ReceivedMessage {
  const header = (name: string) => {
    const value = headers[name];
    if (typeof value !== 'string' || value === '') throw new Error(`missing ${name}`);
    return value;
  };
  const id = header('webhook-id');
  const timestamp = Number(header('webhook-timestamp'));
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > TOLERANCE_SECONDS)
    throw new Error('timestamp outside the tolerance');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  const matches = header('webhook-signature')
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'))
    .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
  if (!matches) throw new Error('no valid signature');
  const message = JSON.parse(body) as ReceivedMessage;
  if (message.id !== id) throw new Error('the body names another message');
  return message;
}

/** A receiver: verified messages go to `deliver`, whose answer (a status, and Retry-After) is the reply. */
export function createReceiver(
  secret: string,
  deliver: (
    message: ReceivedMessage,
  ) => { status: number; retryAfter?: string } | Promise<{ status: number; retryAfter?: string }>,
) {
  const seen = new Set<string>();
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      let message: ReceivedMessage;
      try {
        message = verify(secret, req.headers, Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        res.writeHead(401).end((err as Error).message);
        return;
      }
      // Dundie sends a message again when it did not learn that it went out: once is enough.
      if (seen.has(message.id)) return void res.writeHead(200).end('already sent');
      const { status, retryAfter } = await deliver(message);
      if (status >= 200 && status < 300) seen.add(message.id);
      res.writeHead(status, retryAfter ? { 'retry-after': retryAfter } : {}).end();
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const secret = process.env.DUNDIE_EMAIL__HTTP_SECRET;
  if (!secret) throw new Error('set DUNDIE_EMAIL__HTTP_SECRET to the secret Dundie signs with');
  const port = Number(process.argv[2] ?? 8025);
  createReceiver(secret, (message) => {
    console.log(`--- ${message.id} (${message.kind}, ${message.locale}) to ${message.to} ---\n${message.text}`);
    return { status: 200 };
  }).listen(port, () => console.log(`receiving on http://localhost:${port}/`));
}
