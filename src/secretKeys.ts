/**
 * Whether a signing key is fit for production. Length alone lets through the key a compose file
 * or a tutorial ships ("change-me-to-32-or-more-random-bytes-please" is 43 bytes), and anyone who
 * read that file can forge any token with it: a superuser's, a reset for anyone. So a key must
 * also look random: no placeholder words, and enough entropy by its own character counts.
 */

export const MIN_SECRET_BYTES = 32;
/** What `openssl rand -base64 32` or `-hex 32` gives is about 190 and 240 bits by this estimate. */
const MIN_ESTIMATED_BITS = 128;
const MIN_DISTINCT_CHARACTERS = 12;
// Words of six letters or more: a random base64 key holds one by chance about once in three million.
const PLACEHOLDER = /change|replace|placeholder|example|sample|secret|password|please|default|insecure/i;

/** Shannon entropy of the key's own character frequencies, times its length: a ceiling, not a proof. */
function estimatedBits(key: string): number {
  const counts = new Map<string, number>();
  for (const ch of key) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const n = [...key].length;
  let bitsPerChar = 0;
  for (const c of counts.values()) bitsPerChar -= (c / n) * Math.log2(c / n);
  return bitsPerChar * n;
}

/** Why `key` is no production key, or undefined when it may be one. */
export function weakKeyReason(key: string): string | undefined {
  if (Buffer.byteLength(key) < MIN_SECRET_BYTES) return `must be at least ${MIN_SECRET_BYTES} bytes`;
  if (PLACEHOLDER.test(key)) return 'looks like a placeholder: make one with `openssl rand -base64 32`';
  if (new Set(key).size < MIN_DISTINCT_CHARACTERS || estimatedBits(key) < MIN_ESTIMATED_BITS) {
    return 'does not look random: make one with `openssl rand -base64 32`';
  }
  return undefined;
}
