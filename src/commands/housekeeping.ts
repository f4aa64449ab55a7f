/** Deletes what has served its time, in small batches: old finished outbox rows, spent throttle slots, rate-limit windows. */
import { pruneRateLimits } from '../auth/rateLimits.ts';
import { pruneFamilies } from '../auth/refreshFamilies.ts';
import type { Settings } from '../config.ts';
import type { Conn } from '../db/database.ts';
import { deleteFinished } from '../outbox/queries.ts';
import { pruneResetSlots } from '../users/resetSlots.ts';

export async function housekeeping(db: Conn, config: Settings) {
  return {
    outboxRows: await deleteFinished(db, config.outbox.RETENTION_DAYS),
    // Kept a day past the longest cooldown: the escalation remembers an address that long.
    throttleSlots: await pruneResetSlots(
      db,
      86400 + Math.max(config.security.PWD_RESET_COOLDOWN_MAX_SECONDS, config.security.PWD_RESET_COOLDOWN_SECONDS),
    ),
    rateLimitWindows: await pruneRateLimits(db),
    // A family's last token lives at most this long after its last rotation (or revocation).
    refreshFamilies: await pruneFamilies(
      db,
      60 * Math.max(config.security.REFRESH_TOKEN_EXPIRE_MINUTES, config.security.ACCESS_TOKEN_EXPIRE_MINUTES),
    ),
  };
}
