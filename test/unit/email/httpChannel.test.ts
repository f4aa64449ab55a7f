import test from 'ava';
import { HttpChannelError, retryAfterSeconds, sign, signingKey } from '../../../src/email/httpChannel.ts';
import { verify } from '../../../docs/examples/emailReceiver.ts';

test("signatures match the Standard Webhooks spec's test vector", (t) => {
  const key = signingKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  if (typeof key === 'string') return t.fail(key);
  t.is(
    sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
});

test('the reference receiver takes a signed message and refuses a tampered, unsigned or stale one', (t) => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const key = signingKey(secret) as Buffer;
  const body = JSON.stringify({ id: 'msg_1', kind: 'k', locale: 'en', from: 'a', to: 'b', subject: 's', text: 't' });
  const now = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(now),
    'webhook-signature': sign(key, 'msg_1', now, body),
  };
  t.is(verify(secret, headers, body).to, 'b');
  t.throws(() => verify(secret, headers, body.replace('"b"', '"c"')), { message: /no valid signature/ });
  t.throws(() => verify(secret, { ...headers, 'webhook-signature': undefined }, body), { message: /missing/ });
  t.throws(() => verify(secret, headers, body, now + 3600), { message: /tolerance/ });
  // A receiver rotating its secret lists two signatures; one valid one is enough.
  t.is(
    verify(secret, { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` }, body).id,
    'msg_1',
  );
});

test('a secret must be whsec_ and 24 to 64 bytes of base64', (t) => {
  t.regex(String(signingKey('not-a-secret')), /must start with whsec_/);
  t.regex(String(signingKey('whsec_***')), /base64/);
  t.regex(String(signingKey(`whsec_${Buffer.alloc(8).toString('base64')}`)), /24 to 64 bytes/);
  t.true(Buffer.isBuffer(signingKey(`whsec_${Buffer.alloc(24).toString('base64')}`)));
});

test('408, 429 and 5xx are temporary; any other 4xx is final for the message', (t) => {
  const permanent = (status?: number) => new HttpChannelError('x', { status }).permanent;
  t.deepEqual([400, 401, 404, 413, 422].map(permanent), [true, true, true, true, true]);
  t.deepEqual([408, 429, 500, 502, 503, undefined].map(permanent), [false, false, false, false, false, false]);
});

test('Retry-After is read as seconds or as an HTTP date', (t) => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  t.is(retryAfterSeconds('120', now), 120);
  t.is(retryAfterSeconds('Sat, 05 Dec 2026 12:01:30 GMT', now), 90);
  t.is(retryAfterSeconds('Sat, 05 Dec 2026 11:00:00 GMT', now), 0);
  t.is(retryAfterSeconds('soon', now), undefined);
  t.is(retryAfterSeconds(null, now), undefined);
});
