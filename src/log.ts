/**
 * The one logger. JSON lines in production (for a log pipeline), readable lines in development.
 * Each role takes a child with its scope (`role: api`, `role: dispatcher`), so a line says who
 * wrote it. Tokens and passwords are never passed in; URLs go through `redactUrl` first.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Settings } from './config.ts';
import { turnDestination } from './logDestination.ts';
import { onDeno } from './runtime.ts';

export type { Logger };

export function createLogger(
  config: Pick<Settings, 'log' | 'env'>,
  { stream = 'stdout', level }: { stream?: 'stdout' | 'stderr'; level?: string } = {},
): Logger {
  const fd = stream === 'stderr' ? 2 : 1;
  const options = { level: level ?? config.log.LEVEL, base: undefined, timestamp: isoTime };
  // Lines are handed to the kernel after the turn that logged them, together, so the request log
  // stays off the request's path; what is left is written when the process exits. Deno leaves
  // standard output blocking, so a stalled reader would hold its event loop in that write: there
  // pino's own destination writes from the thread pool.
  if (config.env === 'production' || config.log.FORMAT === 'json')
    return pino(options, onDeno ? pino.destination({ dest: fd, sync: false }) : turnDestination(fd));
  // In-process and synchronous: no worker thread (Deno), and nothing lost on exit. Loaded here
  // only: JSON lines, as in production, leave it out of every thread's heap.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pino(
    options,
    pretty({
      destination: fd,
      sync: true,
      colorize: false,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    }),
  );
}

let isoTimeAt = NaN;
let isoTimeText = '';

/**
 * pino's `isoTime`, formatted once per millisecond: under load many lines share one, and
 * `toISOString` was pino's largest cost per request line (docs/performance.md).
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== isoTimeAt) {
    isoTimeAt = now;
    isoTimeText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoTimeText;
}

const SECRET_PARAMS = new Set([
  'pwd_reset_token',
  'token',
  'access_token',
  'refresh_token',
  'password',
  'current_password',
]);

// Three base64url runs joined by dots, any character possibly percent-encoded: a JWT however the
// client spelled it, in the path or in any parameter. Over-redacting a look-alike costs nothing.
const CHAR = String.raw`(?:[\w-]|%[0-9a-f]{2})`;
const DOT = String.raw`(?:\.|%2e)`;
const JWT_SHAPE = new RegExp(`${CHAR}{10,}${DOT}${CHAR}{10,}${DOT}${CHAR}{16,}`, 'gi');

function paramName(raw: string): string {
  let name = raw.replace(/\+/g, ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // a malformed escape: compare the raw spelling
  }
  // `pwd_reset_token[]`, `pwd_reset_token[0]`: the qs spellings of the same name.
  return name
    .trim()
    .toLowerCase()
    .replace(/(\[[^\]]*\])+$/, '');
}

/**
 * A URL fit for logs: every JWT-shaped value replaced by `REDACTED`, wherever it sits, and the
 * values of secret parameters (any case, any `[]` suffix) too. The rest is kept as sent.
 */
export function redactUrl(url: string): string {
  const redacted = url.replace(JWT_SHAPE, 'REDACTED');
  const q = redacted.indexOf('?');
  if (q < 0) return redacted;
  const query = redacted
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0 || !SECRET_PARAMS.has(paramName(pair.slice(0, eq)))) return pair;
      return `${pair.slice(0, eq)}=REDACTED`;
    })
    .join('&');
  return `${redacted.slice(0, q)}?${query}`;
}
