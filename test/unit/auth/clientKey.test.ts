import test from 'ava';
import { clientKey } from '../../../src/auth/clientKey.ts';

test('an IPv4 address is its own key, with or without a port', (t) => {
  t.is(clientKey('203.0.113.7'), '203.0.113.7');
  t.is(clientKey('203.0.113.7:51234'), '203.0.113.7');
  t.is(clientKey(' 203.0.113.7 '), '203.0.113.7');
});

test('an IPv4-mapped IPv6 address is the IPv4 client it maps', (t) => {
  t.is(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
  t.is(clientKey('::FFFF:cb00:7107'), '203.0.113.7');
  t.is(clientKey('[::ffff:203.0.113.7]:443'), '203.0.113.7');
});

test('every spelling of one IPv6 address, and every address of its /64, is one key', (t) => {
  const spellings = [
    '2001:db8:0:0::1',
    '2001:DB8::1',
    '2001:0db8:0000:0000:0000:0000:0000:0001',
    '[2001:db8::1]:8080',
    '2001:db8::ffff:1:2',
    '2001:db8::1%eth0',
  ];
  for (const s of spellings) t.is(clientKey(s), '2001:db8::/64', s);
  t.is(clientKey('2001:db8:0:1::1'), '2001:db8:0:1::/64');
});

test('the IPv6 prefix is configurable, 128 keys each address', (t) => {
  t.is(clientKey('2001:db8:aaaa:bbbb:cccc::1', 48), '2001:db8:aaaa::/48');
  t.is(clientKey('2001:db8:aaaa:bbbb:cccc::1', 56), '2001:db8:aaaa:bb00::/56');
  t.is(clientKey('2001:DB8::0001', 128), '2001:db8::1');
});

test('what is no address is kept as sent, in lower case', (t) => {
  t.is(clientKey('unknown'), 'unknown');
  t.is(clientKey('Not-An-IP'), 'not-an-ip');
  t.is(clientKey(''), '');
});
