import test from 'ava';
import { deviceCookieValue, trustedDevice } from '../../../src/auth/deviceCookies.ts';

const keys = { SECRET_KEY: 'k'.repeat(40), VERIFY_KEYS: ['k'.repeat(40)] };

test('a device cookie is trusted for the username it was signed for, in any case', (t) => {
  const value = deviceCookieValue(keys, 'Dwight', 'device-1');
  t.is(trustedDevice(keys, value, 'dwight'), 'device-1');
  t.is(trustedDevice(keys, value, 'DWIGHT'), 'device-1');
});

test('a device cookie is worth nothing for another username, altered, or signed with another key', (t) => {
  const value = deviceCookieValue(keys, 'dwight', 'device-1');
  t.is(trustedDevice(keys, value, 'jim'), undefined);
  const [name, , signature] = value.split('.');
  t.is(trustedDevice(keys, `${name}.device-2.${signature}`, 'dwight'), undefined);
  t.is(trustedDevice(keys, deviceCookieValue({ ...keys, SECRET_KEY: 'o'.repeat(40) }, 'dwight'), 'dwight'), undefined);
  for (const junk of [undefined, '', 'a.b', '...', 'x.y.z']) t.is(trustedDevice(keys, junk, 'dwight'), undefined);
});

test('a cookie signed with a previous key still verifies while that key is listed', (t) => {
  const old = deviceCookieValue({ SECRET_KEY: 'o'.repeat(40), VERIFY_KEYS: [] }, 'dwight', 'device-1');
  t.is(trustedDevice({ ...keys, VERIFY_KEYS: [keys.SECRET_KEY, 'o'.repeat(40)] }, old, 'dwight'), 'device-1');
});
