/** CORS (issue 12): listed exact origins may call the API from a browser; no one else, no wildcard. */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi, type Api } from '../helpers/service.ts';

const APP = 'https://app.dm.com';
const tdb = useTestDatabase('cors');
let api: Api;
test.before(async () => {
  api = await startApi(testConfig(tdb.url, { DUNDIE_SERVER__CORS_ORIGINS: `${APP}, http://localhost:5173` }));
  tdb.teardown(() => api.service.stop());
});

const preflight = (origin: string, method = 'POST', headers = 'content-type') =>
  fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });

test('a listed origin passes the preflight', async (t) => {
  const res = await preflight(APP, 'POST', 'Content-Type, Authorization');
  t.is(res.status, 204);
  t.is(res.headers.get('access-control-allow-origin'), APP);
  t.regex(res.headers.get('access-control-allow-methods') ?? '', /POST/);
  t.is(res.headers.get('access-control-allow-headers'), 'content-type, authorization');
  t.truthy(res.headers.get('access-control-max-age'));
  t.regex(res.headers.get('vary') ?? '', /Origin/);
  t.is(res.headers.get('access-control-allow-credentials'), null, 'bearer tokens, no cookies');
});

test('a listed origin can read the API answers, errors included', async (t) => {
  const ok = await fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { origin: 'http://localhost:5173', 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'pam@dm.com' }),
  });
  t.is(ok.status, 200);
  t.is(ok.headers.get('access-control-allow-origin'), 'http://localhost:5173');
  t.regex(ok.headers.get('access-control-expose-headers') ?? '', /Retry-After/);
  t.regex(ok.headers.get('vary') ?? '', /Origin/);
  const missing = await fetch(`${api.base}/user/nobody/`, { headers: { origin: APP } });
  t.is(missing.status, 404);
  t.is(missing.headers.get('access-control-allow-origin'), APP);
});

test('any other origin is refused: no allow header, and its preflight is a 403', async (t) => {
  for (const origin of ['https://evil.example', 'https://app.dm.com.evil.example', 'http://app.dm.com', 'null']) {
    const pre = await preflight(origin);
    t.is(pre.status, 403, origin);
    t.is(pre.headers.get('access-control-allow-origin'), null, origin);
    const res = await fetch(`${api.base}/user/`, { headers: { origin } });
    t.is(res.status, 200, 'the request itself is served; the browser keeps the answer from the page');
    t.is(res.headers.get('access-control-allow-origin'), null, origin);
    t.regex(res.headers.get('vary') ?? '', /Origin/);
  }
});

test('without CORS_ORIGINS no origin is allowed', async (t) => {
  const plain = await startApi(testConfig(tdb.url));
  t.teardown(() => plain.service.stop());
  const res = await fetch(`${plain.base}/user/`, { headers: { origin: APP } });
  t.is(res.headers.get('access-control-allow-origin'), null);
});

test('the pages stay same-origin', async (t) => {
  const res = await fetch(`${api.base}/reset_password`, { headers: { origin: APP } });
  t.is(res.status, 200);
  t.is(res.headers.get('access-control-allow-origin'), null);
});

test('CORS_ORIGINS takes exact origins only: no wildcard, no path', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dundie-cors-'));
  const error = t.throws(
    () =>
      loadConfig({ DUNDIE_DATA_DIR: dir, DUNDIE_SERVER__CORS_ORIGINS: '*, https://app.dm.com/, https://ok.dm.com' }),
    { instanceOf: ConfigError },
  );
  t.is(error.problems.length, 2);
  t.regex(error.problems[0]!, /DUNDIE_SERVER__CORS_ORIGINS must list exact origins/);
});
