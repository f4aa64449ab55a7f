/**
 * The one loop that tries something again (graphile-worker's `withRetries`): every place that
 * waits out a database restart, a lock, a thread's crash or a server's start uses it, so when to
 * give up, how long to pause and how a shutdown cuts a pause short are decided the same way.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /**
   * The pause after `failures` failed tries (milliseconds), given the last error: a `DelayPolicy`
   * (`delays.ts`), or one that reads the error (`transientDelay` in `db/errors.ts`).
   */
  delay: (failures: number, err: unknown) => number;
  /** Whether `err` is worth another try; every error is when not given. */
  retryIf?: (err: unknown) => boolean;
  /** Tries in all, the first included; no limit when not given. */
  attempts?: number;
  /** Epoch milliseconds: a pause that would end past it is not taken, and the last error is thrown. */
  deadline?: number;
  /**
   * A try that ran this long before it failed had worked (a thread that ran, a connection that
   * held): the pauses start over from the first, as a process supervisor's do.
   */
  startOverAfterMs?: number;
  /**
   * Pause before the first try as after a first failure: `work` replaces something that has
   * just failed (a server that died must let go of its resources before it starts again).
   */
  pauseFirst?: boolean;
  /** Cuts a pause short and starts no further try: `retrying` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told of each failed try (by its number) that will be tried again, before the pause. */
  onRetry?: (err: unknown, attempt: number, pauseMs: number) => void;
}

/**
 * Runs `work` until it resolves, and returns what it resolved with. A failure that `retryIf`
 * refuses, the last of `attempts`, or one whose pause would end past `deadline` is thrown as it
 * is. `work` gets the number of this try, counting from 1 and never starting over.
 */
export async function retrying<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { delay, retryIf = () => true, attempts = Infinity, deadline = Infinity, startOverAfterMs, signal } = options;
  let failures = 0;
  if (options.pauseFirst) await pause(delay(++failures, undefined), signal);
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const started = Date.now();
    try {
      return await work(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (startOverAfterMs !== undefined && Date.now() - started >= startOverAfterMs) failures = 0;
      failures++;
      if (attempt >= attempts || !retryIf(err)) throw err;
      const ms = delay(failures, err);
      if (Date.now() + ms > deadline) throw err;
      options.onRetry?.(err, attempt, ms);
      await pause(ms, signal);
    }
  }
}

/** Rejects with the signal's reason, as `signal.throwIfAborted()` does, rather than Node's AbortError. */
const pause = (ms: number, signal: AbortSignal | undefined) =>
  sleep(ms, undefined, { signal }).catch((err: unknown) => {
    throw signal?.aborted ? signal.reason : err;
  });
