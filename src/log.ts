/**
 * The one logger. Each role takes a child with its scope (`role: api`, `role: dispatcher`), so a
 * line says who wrote it. Tokens and passwords are never passed in.
 */
import { pino, type Logger } from 'pino';
import type { Settings } from './config.ts';

export type { Logger };

export function createLogger(
  config: Pick<Settings, 'log'>,
  { stream = 'stdout', level }: { stream?: 'stdout' | 'stderr'; level?: string } = {},
): Logger {
  return pino(
    { level: level ?? config.log.LEVEL, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(stream === 'stderr' ? 2 : 1),
  );
}
