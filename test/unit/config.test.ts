import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, emailTransport, loadConfig } from '../../src/config.ts';
import { testConfig } from '../helpers/config.ts';

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

test('outside development the service refuses a missing or short SECRET_KEY', (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://h/db' }), {
    message: /SECRET_KEY is required/,
  });
  t.throws(
    () =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://h/db',
        DUNDIE_SECURITY__SECRET_KEY: 'x'.repeat(31),
      }),
    { message: /at least 32 bytes/ },
  );
  t.notThrows(() =>
    loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://h/db',
      DUNDIE_SECURITY__SECRET_KEY: randomBytes(32).toString('base64url'),
    }),
  );
});

test('DUNDIE_DISPATCHER__METRICS_PORT is refused with a pointer to DUNDIE_METRICS__PORT', (t) => {
  t.throws(() => testConfig('postgres://h/db', { DUNDIE_DISPATCHER__METRICS_PORT: '9464' }), {
    message: /replaced by DUNDIE_METRICS__PORT/,
  });
});

test('typos and bad values are each reported', (t) => {
  const err = t.throws(
    () =>
      loadConfig({
        DUNDIE_DATA_DIR: dataDir(),
        DUNDIE_EMAIL__SMTP_PROT: '25',
        DUNDIE_EMAIL__DEBUG_MODE: 'maybe',
        PORT: '70000',
        DUNDIE_DISPATCHER__BUSY_CLAIM_GAP_MS: '5000',
      }),
    { instanceOf: ConfigError },
  );
  t.is(err.problems.length, 4);
  t.true(err.problems.some((p) => p.includes('DUNDIE_EMAIL__SMTP_PROT is not a setting')));
  t.true(err.problems.some((p) => p.includes('DUNDIE_EMAIL__DEBUG_MODE must be true or false')));
  t.true(err.problems.some((p) => p.includes('PORT must be at most 65535')));
  t.true(err.problems.some((p) => p.includes('DUNDIE_DISPATCHER__BUSY_CLAIM_GAP_MS must be at most 1000')));
});

test('the e-mail transport: log in debug mode, smtp otherwise, http only with its URL and a whsec_ secret', (t) => {
  t.is(emailTransport(loadConfig({ DUNDIE_DATA_DIR: dataDir() }).email), 'log');
  t.is(emailTransport(loadConfig({ DUNDIE_DATA_DIR: dataDir(), DUNDIE_EMAIL__DEBUG_MODE: 'false' }).email), 'smtp');
  t.is(emailTransport(loadConfig({ DUNDIE_DATA_DIR: dataDir(), DUNDIE_EMAIL__TRANSPORT: 'smtp' }).email), 'smtp');
  const error = t.throws(() => loadConfig({ DUNDIE_DATA_DIR: dataDir(), DUNDIE_EMAIL__TRANSPORT: 'http' }), {
    instanceOf: ConfigError,
  });
  t.deepEqual(error.problems, [
    'DUNDIE_EMAIL__HTTP_URL must be an http(s) URL with DUNDIE_EMAIL__TRANSPORT=http, got ""',
    'DUNDIE_EMAIL__HTTP_SECRET must start with whsec_ (the Standard Webhooks secret format)',
  ]);
  t.throws(() => loadConfig({ DUNDIE_DATA_DIR: dataDir(), DUNDIE_EMAIL__TRANSPORT: 'pigeon' }), {
    message: /TRANSPORT must be one of log, smtp, http/,
  });
  const http = loadConfig({
    DUNDIE_DATA_DIR: dataDir(),
    DUNDIE_EMAIL__TRANSPORT: 'http',
    DUNDIE_EMAIL__HTTP_URL: 'https://mail.dm.com/send',
    DUNDIE_EMAIL__HTTP_SECRET: `whsec_${Buffer.alloc(32).toString('base64')}`,
  });
  t.is(emailTransport(http.email), 'http');
});
