/**
 * The one logger. JSON lines in production (for a log pipeline), readable lines in development.
 * Each role takes a child with its scope (`role: api`, `role: dispatcher`), so a line says who
 * wrote it. Tokens and passwords are never passed in; URLs go through `redactUrl` first.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Settings } from './config.ts';

export type { Logger };

export function createLogger(
  config: Pick<Settings, 'log' | 'env'>,
  { stream = 'stdout', level }: { stream?: 'stdout' | 'stderr'; level?: string } = {},
): Logger {
  const fd = stream === 'stderr' ? 2 : 1;
  const options = { level: level ?? config.log.LEVEL, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  // Asynchronous: a line is handed to the kernel after the request has answered, and lines
  // written meanwhile go out together. Written synchronously, the request log was a tenth of the
  // API's CPU under load (docs/performance.md). Pino flushes what is left when the process exits.
  if (config.env === 'production' || config.log.FORMAT === 'json') return pino(options, pino.destination({ dest: fd, sync: false }));
  // In-process and synchronous: no worker thread (Deno), and nothing lost on exit.
  return pino(options, pretty({ destination: fd, sync: true, colorize: false, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

const SECRET_PARAMS = ['pwd_reset_token', 'token', 'access_token', 'refresh_token', 'password'];

/** A URL fit for logs: secret query parameters replaced by `REDACTED`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of SECRET_PARAMS) if (params.has(name)) params.set(name, 'REDACTED');
  return `${url.slice(0, q)}?${params.toString()}`;
}
