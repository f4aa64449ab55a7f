/**
 * How long to wait before trying again, for every loop that retries and for the outbox's failed
 * rows, in one place, so that each pause is a named policy rather than arithmetic in a loop.
 *
 * A policy takes the number of failures so far (1 after the first) and returns a pause in the
 * unit its figures are given in: milliseconds for `retrying()`, seconds for the outbox rows.
 * Jitter spreads out clients that failed together (a database restart drops every dispatcher at
 * once), so they do not come back together in waves.
 */

export type DelayPolicy = (failures: number) => number;

/**
 * `none`: the exact figure. `full`: uniform in [0, figure) (graphile-worker's and AWS's advice
 * for many clients of one server). `equal`: uniform in [figure/2, figure): spread out, but
 * never much sooner than planned.
 */
export type Jitter = 'none' | 'full' | 'equal';

export interface ExponentialOptions {
  /** The pause after the first failure. */
  first: number;
  /** No pause is longer. */
  max: number;
  factor?: number;
  jitter?: Jitter;
  random?: () => number;
}

/** first, first × factor, first × factor², … capped at max, then jittered. */
export function exponential({
  first,
  max,
  factor = 2,
  jitter = 'none',
  random = Math.random,
}: ExponentialOptions): DelayPolicy {
  return (failures) => {
    const ceiling = Math.min(first * factor ** Math.max(0, failures - 1), max);
    if (jitter === 'full') return random() * ceiling;
    if (jitter === 'equal') return ceiling / 2 + (random() * ceiling) / 2;
    return ceiling;
  };
}

/** step, 2 × step, 3 × step, …: for a local process that needs a moment longer each time. */
export const linear =
  (step: number): DelayPolicy =>
  (failures) =>
    step * failures;

/** The same pause every time: polling for something another process will finish. */
export const constant =
  (pause: number): DelayPolicy =>
  () =>
    pause;

export interface BackoffSettings {
  BACKOFF_BASE_SECONDS: number;
  BACKOFF_MAX_SECONDS: number;
}

/**
 * The ceiling of a failed outbox row's pause after `attempts` failed tries: base, 2×base,
 * 4×base, … capped at BACKOFF_MAX_SECONDS.
 */
export function backoffCeilingSeconds(settings: BackoffSettings, attempts: number): number {
  return exponential({ first: settings.BACKOFF_BASE_SECONDS, max: settings.BACKOFF_MAX_SECONDS })(attempts);
}

/**
 * Seconds before a failed outbox row is tried again (its `run_after`: a time in the database,
 * not a loop here): full jitter below the ceiling, so rows that failed together (an SMTP outage)
 * spread out, and a floor of one second, so a row is never retried at once in a tight loop.
 */
export function backoffSeconds(
  settings: BackoffSettings,
  attempts: number,
  random: () => number = Math.random,
): number {
  const policy = exponential({
    first: settings.BACKOFF_BASE_SECONDS,
    max: settings.BACKOFF_MAX_SECONDS,
    jitter: 'full',
    random,
  });
  return Math.max(1, policy(attempts));
}
