/**
 * A bound on password hashes in progress. scrypt is slow on purpose, so a few logins a second fill
 * every core and every other request waits behind them (docs/security.md, "Password hashing as
 * denial of service"). At most `concurrency` hashes run at once and at most `queue`
 * wait; past that a hash is refused at once (`Overloaded`, a 503 with Retry-After), so a login
 * flood costs its senders quick refusals instead of costing everyone else the service.
 */
import { availableParallelism } from 'node:os';
import { Overloaded } from '../errors.ts';

export interface HashLimits {
  concurrency: number;
  queue: number;
  /** Places one anonymous client may hold in line (a flood from one address fills no more). */
  perClient?: number;
}

/** Whose hash this is: a client that proved itself before goes first (`auth/deviceCookies.ts`). */
export interface HashLane {
  trusted?: boolean;
  /** The client's key: one anonymous client holds at most `perClient` places in line. */
  client?: string;
}

let limits: Required<HashLimits> = { concurrency: availableParallelism(), queue: 8, perClient: 2 };
let running = 0;
const trustedLine: (() => void)[] = [];
const line: (() => void)[] = [];
const waitingBy = new Map<string, number>();

/** Set once at start from `security.HASH_CONCURRENCY` / `security.HASH_QUEUE` (0: one per core). */
export function setHashLimits({ concurrency, queue, perClient = 2 }: HashLimits): void {
  limits = { concurrency: concurrency > 0 ? concurrency : availableParallelism(), queue, perClient };
}

/** Hashes running and waiting now (for tests and metrics). */
export const hashesInProgress = () => ({ running, waiting: trustedLine.length + line.length });

/**
 * Runs `hash` when a slot is free: trusted hashes before the others, each line up to `queue`
 * long; throws Overloaded at once when the caller's line is full, or when an anonymous client
 * already has its share of places in it.
 */
export async function withHashSlot<T>(hash: () => Promise<T>, { trusted = false, client }: HashLane = {}): Promise<T> {
  if (running >= limits.concurrency) {
    const queue = trusted ? trustedLine : line;
    if (queue.length >= limits.queue) throw new Overloaded(1);
    const share = !trusted && client !== undefined;
    if (share && (waitingBy.get(client) ?? 0) >= limits.perClient) throw new Overloaded(1);
    if (share) waitingBy.set(client, (waitingBy.get(client) ?? 0) + 1);
    await new Promise<void>((resolve) => queue.push(resolve));
    if (share) {
      const left = waitingBy.get(client)! - 1;
      if (left === 0) waitingBy.delete(client);
      else waitingBy.set(client, left);
    }
  } else {
    running++;
  }
  try {
    return await hash();
  } finally {
    // Hand the slot straight to the next in line, so `running` never dips and lets a newcomer jump the queue.
    const next = trustedLine.shift() ?? line.shift();
    if (next) next();
    else running--;
  }
}
