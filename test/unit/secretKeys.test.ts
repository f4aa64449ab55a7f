import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { weakKeyReason } from '../../src/secretKeys.ts';

const production = (key: string) =>
  loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://x@h/db', DUNDIE_SECURITY__SECRET_KEY: key });

test("production refuses the compose file's placeholder key, saying how to make one", (t) => {
  const err = t.throws(() => production('change-me-to-32-or-more-random-bytes-please'), { instanceOf: ConfigError });
  t.deepEqual(err.problems, [
    'DUNDIE_SECURITY__SECRET_KEY looks like a placeholder: make one with `openssl rand -base64 32`',
  ]);
});

test('production refuses long keys that are not random', (t) => {
  for (const key of [
    'x'.repeat(64),
    'ab'.repeat(20),
    '0123456789'.repeat(4),
    'my-super-secret-signing-key-for-dundie-prod',
  ]) {
    t.truthy(weakKeyReason(key), key);
  }
});

test('keys made by openssl rand -base64 32 and -hex 32 are accepted', (t) => {
  for (let i = 0; i < 500; i++) {
    t.is(weakKeyReason(randomBytes(32).toString('base64')), undefined);
    t.is(weakKeyReason(randomBytes(32).toString('hex')), undefined);
  }
  t.notThrows(() => production(randomBytes(32).toString('base64url')));
});

test('a weak previous key is refused too, never named in the message', (t) => {
  const err = t.throws(
    () =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://x@h/db',
        DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64'),
        DUNDIE_SECURITY__PREVIOUS_SECRET_KEYS: 'change-me-to-32-or-more-random-bytes-please',
      }),
    { instanceOf: ConfigError },
  );
  t.is(err.problems.length, 1);
  t.false(err.problems[0]!.includes('change-me'));
});
