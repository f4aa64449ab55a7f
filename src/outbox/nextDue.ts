/**
 * The continuous dispatcher's wake-up at the next due row (a retry's backoff running out): asked
 * of the database after a claim that took everything due and after a failure, so that a retry
 * goes out when its backoff says and not at the next cron tick.
 */
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { msUntilNextDue, type KnownKind } from './queries.ts';

/**
 * Bounds of the wake-up: rows due within the first are claimed together, and past the second the
 * cron tick (and a fresh look) comes first anyway.
 */
const WAKE_MIN_MS = 50;
const WAKE_MAX_MS = 60_000;
/**
 * At most one question this often; one asked for meanwhile waits for its turn. Under a steady
 * stream of requests every claim takes everything due, and each would ask (one statement per
 * claim). Each question also counts the rows that came due since the one before, so a row that
 * came due while a question waited is woken for at once.
 */
const ASK_EVERY_MS = 250;

export interface NextDueWakeUp {
  /** Asks when the next row comes due and sets the wake-up for it; one question at a time. */
  schedule(): void;
  /** No wake-up after this, even for a question already asked. */
  cancel(): void;
}

export function nextDueWakeUp(
  { db, known, log }: { db: Db; known: readonly KnownKind[]; log: Logger },
  wake: () => void,
): NextDueWakeUp {
  let timer: NodeJS.Timeout | undefined;
  /** When the wake-up fires (epoch ms). */
  let at = Infinity;
  /** Whether the next due row is being asked for, and whether to ask again after. */
  let asking: 'no' | 'yes' | 'again' = 'no';
  let lastAsked = -Infinity;
  /** A question waiting for its turn (ASK_EVERY_MS). */
  let turn: NodeJS.Timeout | undefined;
  let cancelled = false;

  const wakeIn = (ms: number) => {
    const delay = Math.min(Math.max(ms, WAKE_MIN_MS), WAKE_MAX_MS);
    const when = Date.now() + delay;
    // The earlier wake-up stands; a later row is found by the claim it triggers.
    if (when >= at) return;
    clearTimeout(timer);
    at = when;
    timer = setTimeout(() => {
      at = Infinity;
      timer = undefined;
      wake();
    }, delay);
    timer.unref();
  };

  const schedule = () => {
    if (asking !== 'no') {
      asking = 'again';
      return;
    }
    if (turn) return;
    const wait = lastAsked + ASK_EVERY_MS - performance.now();
    if (wait > 0) {
      turn = setTimeout(() => {
        turn = undefined;
        if (!cancelled) schedule();
      }, wait);
      turn.unref();
      return;
    }
    const sinceMs = lastAsked === -Infinity ? 0 : performance.now() - lastAsked;
    lastAsked = performance.now();
    asking = 'yes';
    void msUntilNextDue(db, known, sinceMs)
      .then((ms) => {
        if (ms !== undefined && !cancelled) wakeIn(ms);
      })
      .catch((err: unknown) =>
        log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not ask when the next row is due; the cron tick will',
        ),
      )
      .finally(() => {
        const again = asking === 'again';
        asking = 'no';
        if (again && !cancelled) schedule();
      });
  };

  return {
    schedule,
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      clearTimeout(turn);
    },
  };
}
