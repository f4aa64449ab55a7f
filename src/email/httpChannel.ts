/**
 * E-mail over HTTP: the rendered message as a JSON POST to the operator's endpoint (an e-mail
 * provider's API behind a small adapter, or a sender of their own), signed as the Standard
 * Webhooks spec says (https://www.standardwebhooks.com), so the receiver can check that the
 * message came from this service and was not replayed.
 *
 * The answer decides the row's fate: 2xx is sent; 408, 429, 5xx, a timeout or a connection
 * failure is temporary (retried, not before `Retry-After` when the answer carries one); any other
 * 4xx is final for this message. The `webhook-id` is the message's own stable id, the same on
 * every retry, so a receiver that saw it already can answer 2xx and send nothing.
 */
import { createHmac } from 'node:crypto';

/** What is posted (JSON), and what the reference receiver in docs/email-http.md reads. */
export interface HttpMessage {
  id: string;
  kind: string;
  locale: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** A send the endpoint did not take. `permanent`: a 4xx other than 408 and 429. */
export class HttpChannelError extends Error {
  readonly status: number | undefined;
  readonly permanent: boolean;
  /** From the answer's `Retry-After`, when it had one. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, { status, retryAfterSeconds }: { status?: number; retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = 'HttpChannelError';
    this.status = status;
    this.permanent = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const SECRET_PREFIX = 'whsec_';

/** The signing key of a `whsec_…` secret (base64 after the prefix); the reason when it will not do. */
export function signingKey(secret: string): Buffer | string {
  if (!secret.startsWith(SECRET_PREFIX))
    return `must start with ${SECRET_PREFIX} (the Standard Webhooks secret format)`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return `must be ${SECRET_PREFIX} followed by base64`;
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 24 || key.length > 64) return `must carry 24 to 64 bytes of key (it carries ${key.length})`;
  return key;
}

/** `webhook-signature`'s value for a body sent with this id and timestamp. */
export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Seconds from a `Retry-After` value (delay-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export interface HttpChannel {
  send(message: HttpMessage): Promise<void>;
}

export function createHttpChannel({
  url,
  secret,
  timeoutMs,
}: {
  url: string;
  secret: string;
  timeoutMs: number;
}): HttpChannel {
  const key = signingKey(secret);
  if (typeof key === 'string') throw new Error(`email.HTTP_SECRET ${key}`);
  return {
    async send(message) {
      const body = JSON.stringify(message);
      const timestamp = Math.floor(Date.now() / 1000);
      let response: Response;
      try {
        // fetch keeps connections to the endpoint alive and reuses them (Node's undici pool).
        response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': message.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': sign(key, message.id, timestamp, body),
          },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const reason =
          (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
        throw new HttpChannelError(`HTTP channel: ${reason}`);
      }
      // Read whole, so the connection goes back to the pool; only the start is kept for the record.
      const answer = (await response.text().catch(() => '')).slice(0, 200);
      if (response.ok) return;
      throw new HttpChannelError(`HTTP channel answered ${response.status}${answer ? `: ${answer}` : ''}`, {
        status: response.status,
        retryAfterSeconds: retryAfterSeconds(response.headers.get('retry-after')),
      });
    },
  };
}
