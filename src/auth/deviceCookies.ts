/**
 * Device cookies (OWASP's answer to lockouts as denial of service): a browser that once logged in
 * to an account gets a signed cookie naming that account and a random device id. While an attack
 * from many addresses has the account's shared ceiling spent, a login that carries the cookie is
 * counted on its device's own budget instead, and its password check goes before anonymous ones,
 * so the owner is not locked out by strangers. The cookie proves only "this browser logged in as
 * this user before"; the password is still checked.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../config.ts';

export const DEVICE_COOKIE = 'dundie_device';
export const DEVICE_COOKIE_DAYS = 90;

type Keys = Pick<Settings['security'], 'SECRET_KEY' | 'VERIFY_KEYS'>;

const mac = (key: string, username: string, device: string) =>
  createHmac('sha256', key).update(`dundie-device\0${username.toLowerCase()}\0${device}`).digest('base64url');

/** A cookie value for `username` on `device` (a new device id when none is given). */
export function deviceCookieValue(
  keys: Keys,
  username: string,
  device = randomBytes(12).toString('base64url'),
): string {
  return `${Buffer.from(username.toLowerCase()).toString('base64url')}.${device}.${mac(keys.SECRET_KEY, username, device)}`;
}

/** The device id of a cookie signed for `username` with any key still trusted, else undefined. */
export function trustedDevice(keys: Keys, value: string | undefined, username: string): string | undefined {
  const [name, device, signature] = value?.split('.') ?? [];
  if (!name || !device || !signature) return undefined;
  if (Buffer.from(name, 'base64url').toString() !== username.toLowerCase()) return undefined;
  const given = Buffer.from(signature, 'base64url');
  for (const key of keys.VERIFY_KEYS) {
    const expected = Buffer.from(mac(key, username, device), 'base64url');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return device;
  }
  return undefined;
}
