/**
 * The key a client's limits are counted under, from the address the request came from (or the
 * one our proxy put in X-Forwarded-For). Raw address text gives one client many budgets: a port
 * (`203.0.113.7:51234`), an IPv4-mapped IPv6 form (`::ffff:203.0.113.7`), other spellings of one
 * IPv6 address (`2001:DB8::1`, `2001:db8:0:0::1`), and above all the 2^64 addresses of the one
 * IPv6 /64 that a single home connection or cloud machine is handed. So: ports dropped, one
 * spelling, IPv6 keyed by its prefix (`/64` by default).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail included). */
function groupsOf(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** RFC 5952's spelling: lower case, no leading zeros, the longest run of zero groups as `::`. */
function spell(groups: number[]): string {
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}

export function clientKey(address: string, ipv6PrefixBits = 64): string {
  let text = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = text.replace(/%.*$/, '');
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return text.toLowerCase();
  const groups = groupsOf(text.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
  }
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, ipv6PrefixBits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return ipv6PrefixBits >= 128 ? spell(masked) : `${spell(masked)}/${ipv6PrefixBits}`;
}
