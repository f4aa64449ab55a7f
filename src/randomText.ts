/**
 * Short random strings (nonces, boundaries) cut from a buffer that the CSPRNG fills 4 KB at a
 * time, as Node's own `randomUUID` does: one call into OpenSSL per few hundred strings instead
 * of one each, which cost the dispatcher a few microseconds per row. Each byte is handed out once.
 */
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` fresh random bytes, as text in `encoding`. */
export function randomText(bytes: number, encoding: 'base64url' | 'hex'): string {
  if (bytes > POOL_BYTES / 8) return randomBytes(bytes).toString(encoding);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const text = pool.toString(encoding, offset, offset + bytes);
  offset += bytes;
  return text;
}
