/**
 * Clears what has served its time: the outbox's finished days (a partition dropped whole, the
 * next days' made ahead), spent throttle slots, rate-limit windows, refresh-token families, and
 * security events past their retention.
 */
import { pruneRateLimits } from '../auth/limits.ts';
import { pruneFamilies } from '../auth/refreshFamilies.ts';
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { maintainPartitions } from '../outbox/partitions.ts';
import { pruneResetSlots } from '../users/resetThrottle.ts';
import { pruneSecurityEvents } from '../users/securityEvents.ts';

/**
 * Each step runs even when one before it failed (its work is not held up by another table's
 * trouble); a failure is thrown once every step has run.
 */
export async function housekeeping(db: Conn, config: Settings) {
  const failures: string[] = [];
  const step = async <T>(what: string, run: () => Promise<T>, otherwise: T): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
      return otherwise;
    }
  };
  const outbox = await step(
    'outbox partitions',
    () => maintainPartitions(db, { retentionDays: config.outbox.RETENTION_DAYS }),
    { made: [], dropped: [], deferred: [], deleted: 0 },
  );
  const done = {
    outboxPartitionsMade: outbox.made.length,
    outboxPartitionsDropped: outbox.dropped.length,
    // Left for the next run: a lock not to be had at once, or another replica at the same step.
    outboxStepsDeferred: outbox.deferred.length,
    outboxRows: outbox.deleted,
    // Kept a day past the longest cooldown: the escalation remembers an address that long.
    throttleSlots: await step(
      'throttle slots',
      () =>
        pruneResetSlots(
          db,
          86400 + Math.max(config.security.PWD_RESET_COOLDOWN_MAX_SECONDS, config.security.PWD_RESET_COOLDOWN_SECONDS),
        ),
      0,
    ),
    rateLimitWindows: await step('rate-limit windows', () => pruneRateLimits(db), 0),
    // A family's last token lives at most this long after its last rotation (or revocation).
    refreshFamilies: await step(
      'refresh-token families',
      () =>
        pruneFamilies(
          db,
          60 * Math.max(config.security.REFRESH_TOKEN_EXPIRE_MINUTES, config.security.ACCESS_TOKEN_EXPIRE_MINUTES),
        ),
      0,
    ),
    securityEvents: await step(
      'security events',
      () => pruneSecurityEvents(db, config.audit.RETENTION_DAYS, { anonymousDays: config.outbox.RETENTION_DAYS }),
      0,
    ),
  };
  if (failures.length > 0) throw new Error(failures.join('; '));
  return done;
}
