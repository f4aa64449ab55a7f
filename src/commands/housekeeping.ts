/** Deletes what has served its time, in small batches: old finished outbox rows, spent throttle slots, rate-limit windows. */
import { pruneRateLimits } from '../auth/rateLimits.ts';
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { deleteFinished } from '../outbox/queries.ts';
import { pruneResetSlots } from '../users/resetSlots.ts';

export async function housekeeping(db: Conn, config: Settings) {
  return {
    outboxRows: await deleteFinished(db, config.outbox.RETENTION_DAYS),
    throttleSlots: await pruneResetSlots(db, Math.max(config.security.PWD_RESET_COOLDOWN_SECONDS, 3600)),
    rateLimitWindows: await pruneRateLimits(db),
  };
}
