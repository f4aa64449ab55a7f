import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'dundie-config-'));

test('defaults are the first API default.toml', (t) => {
  const config = loadConfig({ DUNDIE_DATA_DIR: dataDir() });
  t.is(config.port, 8000);
  t.is(config.security.ALGORITHM, 'HS256');
  t.is(config.security.ACCESS_TOKEN_EXPIRE_MINUTES, 600);
  t.is(config.security.REFRESH_TOKEN_EXPIRE_MINUTES, 600);
  t.is(config.security.RESET_TOKEN_EXPIRE_MINUTES, 10);
  t.is(config.security.PWD_RESET_URL, 'http://localhost:8000/reset_password');
  t.true(config.email.debug_mode);
  t.is(config.email.smtp_sender, 'no-reply@dm.com');
  t.is(config.email.smtp_server, 'localhost');
  t.is(config.email.smtp_port, 1025);
  t.is(config.email.smtp_user, undefined);
  t.true(Object.isFrozen(config) && Object.isFrozen(config.security));
});

test('in development a secret key is generated once and kept under the data dir', (t) => {
  const dir = dataDir();
  const first = loadConfig({ DUNDIE_DATA_DIR: dir });
  const second = loadConfig({ DUNDIE_DATA_DIR: dir });
  t.true(first.security.SECRET_KEY.length >= 32);
  t.is(first.security.SECRET_KEY, second.security.SECRET_KEY);
  t.is(readFileSync(path.join(dir, 'secret_key'), 'utf8').trim(), first.security.SECRET_KEY);
});

test('environment keys override, case-insensitively', (t) => {
  const config = loadConfig({
    DUNDIE_DATA_DIR: dataDir(),
    DUNDIE_EMAIL__DEBUG_MODE: 'false',
    dundie_security__reset_token_expire_minutes: '3',
    PORT: '9000',
  });
  t.false(config.email.debug_mode);
  t.is(config.security.RESET_TOKEN_EXPIRE_MINUTES, 3);
  t.is(config.port, 9000);
});

test('production refuses to start without a secret key or database, naming each problem', (t) => {
  const err = t.throws(() => loadConfig({ NODE_ENV: 'production', DUNDIE_DATA_DIR: dataDir() }), {
    instanceOf: ConfigError,
  });
  t.deepEqual(err.problems, [
    'DATABASE_URL is required when NODE_ENV=production (the embedded PostgreSQL is for development only)',
    'DUNDIE_SECURITY__SECRET_KEY is required when NODE_ENV=production',
  ]);
});

test('production refuses a short secret key', (t) => {
  const err = t.throws(
    () =>
      loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://x@h/db', DUNDIE_SECURITY__SECRET_KEY: 'short' }),
    { instanceOf: ConfigError },
  );
  t.deepEqual(err.problems, ['DUNDIE_SECURITY__SECRET_KEY must be at least 32 bytes']);
});

test('typos and bad values are each reported', (t) => {
  const err = t.throws(
    () =>
      loadConfig({
        DUNDIE_DATA_DIR: dataDir(),
        DUNDIE_EMAIL__SMTP_PROT: '25',
        DUNDIE_EMAIL__DEBUG_MODE: 'maybe',
        PORT: '70000',
      }),
    { instanceOf: ConfigError },
  );
  t.is(err.problems.length, 3);
  t.true(err.problems.some((p) => p.includes('DUNDIE_EMAIL__SMTP_PROT is not a setting')));
  t.true(err.problems.some((p) => p.includes('DUNDIE_EMAIL__DEBUG_MODE must be true or false')));
  t.true(err.problems.some((p) => p.includes('PORT must be at most 65535')));
});
