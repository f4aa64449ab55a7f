/**
 * When a failed row is tried again: capped exponential backoff with full jitter (the delay is
 * drawn uniformly below the exponential ceiling), so rows that failed together (an SMTP outage)
 * do not come back together in waves. A floor of one second keeps a row from being retried at
 * once in a tight loop.
 */

export interface BackoffSettings {
  BACKOFF_BASE_SECONDS: number;
  BACKOFF_MAX_SECONDS: number;
}

/** The ceiling after `attempts` failed tries: base, 2×base, 4×base, … capped at BACKOFF_MAX_SECONDS. */
export function backoffCeilingSeconds(settings: BackoffSettings, attempts: number): number {
  return Math.min(settings.BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), settings.BACKOFF_MAX_SECONDS);
}

/** Seconds before the next try after `attempts` failed ones: uniform in [1, ceiling]. */
export function backoffSeconds(
  settings: BackoffSettings,
  attempts: number,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeilingSeconds(settings, attempts);
  return Math.max(1, Math.min(ceiling, random() * ceiling));
}
