/**
 * A bound on password hashes in progress. scrypt is slow on purpose (~50-90 ms of one core, see
 * README "Security"), so 15-19 logins a second filled both cores and every other request waited
 * seconds behind them (issue 13). At most `concurrency` hashes run at once and at most `queue`
 * wait; past that a hash is refused at once (`Overloaded`, a 503 with Retry-After), so a login
 * flood costs its senders quick refusals instead of costing everyone else the service.
 */
import { availableParallelism } from 'node:os';
import { Overloaded } from '../errors.ts';

export interface HashLimits {
  concurrency: number;
  queue: number;
}

let limits: HashLimits = { concurrency: availableParallelism(), queue: 8 };
let running = 0;
const waiting: (() => void)[] = [];

/** Set once at start from `security.HASH_CONCURRENCY` / `security.HASH_QUEUE` (0: one per core). */
export function setHashLimits({ concurrency, queue }: HashLimits): void {
  limits = { concurrency: concurrency > 0 ? concurrency : availableParallelism(), queue };
}

/** Hashes running and waiting now (for tests and metrics). */
export const hashesInProgress = () => ({ running, waiting: waiting.length });

/** Runs `hash` when a slot is free; throws Overloaded at once when the queue is full too. */
export async function withHashSlot<T>(hash: () => Promise<T>): Promise<T> {
  if (running >= limits.concurrency) {
    if (waiting.length >= limits.queue) throw new Overloaded(1);
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running++;
  }
  try {
    return await hash();
  } finally {
    // Hand the slot straight to the next in line, so `running` never dips and lets a newcomer jump the queue.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}
