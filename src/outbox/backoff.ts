/** When a failed row is tried again. */

export interface BackoffSettings {
  BACKOFF_BASE_SECONDS: number;
  BACKOFF_MAX_SECONDS: number;
}

/** Seconds before the next try after `attempts` failed ones: base, 2×base, 4×base, … capped. */
export function backoffSeconds(settings: BackoffSettings, attempts: number): number {
  return Math.min(settings.BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), settings.BACKOFF_MAX_SECONDS);
}
