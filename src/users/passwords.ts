/**
 * Password hashing with `node:crypto` scrypt: no native addon, so the same code runs on Node
 * and Deno. The parameters are stored with each hash, so they can be raised later without
 * breaking the hashes already stored.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { withHashSlot, type HashLane } from './hashQueue.ts';

export type { HashLane };

// Every hash waits its turn in hashQueue.ts: a login flood is refused, not queued without end.
const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions, lane: HashLane) =>
  withHashSlot(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
      ),
    lane,
  );

/** A new hash is made only for a caller already allowed to set a password: it goes first. */
const AUTHORIZED: HashLane = { trusted: true };

// OWASP's floor for scrypt (N=2^17, r=8, p=1) costs 128 MiB a hash; 2^15 costs 32 MiB and keeps
// a login affordable on a small instance (docs/security.md) while staying far above what GPUs
// find cheap.
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const maxmem = (n: number, r: number) => 128 * n * r + 1024 * 1024;

/** `scrypt$N$r$p$salt$key`, salt and key in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: maxmem(N, R) }, AUTHORIZED);
  return ['scrypt', N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string, lane: HashLane = {}): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: maxmem(Number(n), Number(r)) };
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, params, lane);
  return timingSafeEqual(actual, expected);
}

/**
 * A hash of nothing anyone knows, checked when a login names no user, so that a wrong username
 * costs as long as a wrong password and the answer time does not tell which users exist.
 */
let dummyHash: Promise<string> | undefined;
export async function verifyAgainstNothing(password: string, lane: HashLane = {}): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await dummyHash, lane);
  return false;
}
