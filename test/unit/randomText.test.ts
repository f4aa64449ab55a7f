import test from 'ava';
import { randomText } from '../../src/randomText.ts';

test('random texts have the length and alphabet of their bytes in their encoding', (t) => {
  t.regex(randomText(12, 'base64url'), /^[A-Za-z0-9_-]{16}$/);
  t.regex(randomText(12, 'hex'), /^[0-9a-f]{24}$/);
  t.regex(randomText(4096, 'hex'), /^[0-9a-f]{8192}$/);
});

test('no random text repeats, across the refills of the pool it is cut from', (t) => {
  // 12-byte texts over several 4 KB refills, and some that straddle a refill.
  const texts = Array.from({ length: 3000 }, (_, i) => randomText(i % 7 === 0 ? 5 : 12, 'hex'));
  t.is(new Set(texts).size, texts.length);
  // Each byte is handed out once: no text is a slice of the one before it.
  for (let i = 1; i < texts.length; i += 1) t.false(texts[i - 1]!.includes(texts[i]!.slice(0, 8)));
});
