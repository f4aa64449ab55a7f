/** Input no handler can read answers 4xx and one warn line: never a 500 and a stack trace. */
import test from 'ava';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { createTokenPair } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('malformed');
let api: Api;
let config: ReturnType<typeof testConfig>;
const lines: Record<string, any>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
    done();
  },
});

test.before(async () => {
  config = testConfig(tdb.url);
  api = await startApi(config, { api: true, dispatcher: false }, pino({ level: 'info' }, sink));
  tdb.teardown(() => api.service.stop());
});

const LONE = '\ud800';
// JSON.stringify writes a lone surrogate as the escape `\ud800`, exactly what an attacker sends.
const body = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
const linesOf = (id: string | null) => lines.filter((l) => l.requestId === id);

test.serial('a lone UTF-16 surrogate in any string is a 422, logged at warn in one line', async (t) => {
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const user = await makeUser(tdb.db);
  const bossToken = createTokenPair(config.security, boss, true).access_token;
  const userToken = createTokenPair(config.security, user, true).access_token;
  const attempts = [
    ['POST', '/user/pwd_reset_token/', body({ email: `a${LONE}@dm.com` }), undefined],
    ['POST', '/token', body({ username: `x${LONE}`, password: 'whatever' }), undefined],
    ['POST', '/token', body({ username: user.username, password: `p${LONE}` }), undefined],
    ['PATCH', `/user/${user.username}/`, body({ bio: `hi ${LONE}` }), userToken],
    [
      'POST',
      '/user/',
      body({ name: `N${LONE}`, email: 'n@dm.com', dept: 'sales', password: 'a-fine-password-1' }),
      bossToken,
    ],
    [
      'POST',
      `/user/${user.username}/password/`,
      body({ password: `p${LONE}assword1`, password_confirm: `p${LONE}assword1` }),
      userToken,
    ],
  ] as const;
  for (const [method, path, options, token] of attempts) {
    const res = await api.request(method, path, { ...options, token });
    t.is(res.status, 422, `${method} ${path}`);
    t.true(
      res.body.detail.some((i: { type: string }) => i.type === 'string_unicode'),
      JSON.stringify(res.body),
    );
    const logged = linesOf(res.headers.get('x-request-id'));
    t.deepEqual(logged.map((l) => l.level).sort(), [30, 40], 'one request line and one warn line');
  }
  t.false(
    lines.some((l) => l.level >= 50),
    'nothing logged as an error',
  );
});

test.serial(
  'Content-Encoding gzip or br on a plain body is a 400 on any route that reads a body, logged at warn in one line',
  async (t) => {
    for (const encoding of ['gzip', 'br', 'deflate']) {
      const nowhere = await api.request('POST', '/no/such/path', {
        body: '{"email":"a@dm.com"}',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
      t.is(nowhere.status, 404, `${encoding}: no route, so the body is never read`);
      for (const path of ['/token', '/user/pwd_reset_token/', '/refresh_token']) {
        const res = await api.request('POST', path, {
          body: '{"email":"a@dm.com"}',
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        });
        t.is(res.status, 400, `${encoding} ${path}`);
        t.deepEqual(res.body, { detail: 'Request body does not match its Content-Encoding' });
        const logged = linesOf(res.headers.get('x-request-id'));
        t.truthy(
          logged.find((l) => l.level === 40),
          `${encoding} ${path} warned`,
        );
      }
    }
    const unknown = await api.request('POST', '/token', {
      body: '{}',
      headers: { 'content-type': 'application/json', 'content-encoding': 'x-zip' },
    });
    t.is(unknown.status, 415);
    // A real gzip body is still read.
    const gz = await fetch(`${api.base}/user/pwd_reset_token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"email":"zipped@dm.com"}'),
    });
    t.is(gz.status, 200);
    t.false(
      lines.some((l) => l.level >= 50),
      'nothing logged as an error',
    );
  },
);

test.serial('an unsupported Content-Type answers 415, not a 422 "Field required"', async (t) => {
  for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
    const res = await api.request('POST', '/user/pwd_reset_token/', {
      body: '{"email":"a@dm.com"}',
      headers: { 'content-type': type },
    });
    t.is(res.status, 415, type);
    t.deepEqual(res.body, { detail: 'Unsupported media type' });
  }
  const noType = await fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'POST',
    body: new Uint8Array(Buffer.from('{"email":"a@dm.com"}')),
  });
  t.is(noType.status, 415, 'a body with no Content-Type');
  const json = await api.request('POST', '/user/pwd_reset_token/', { json: { email: 'a@dm.com' } });
  t.is(json.status, 200);
  const form = await api.request('POST', '/token', { form: { username: 'nobody', password: 'nothing-at-all' } });
  t.is(form.status, 401);
  const empty = await api.request('POST', '/refresh_token', { headers: { 'content-length': '0' } });
  t.is(empty.status, 422, 'no body at all is still a validation error');
});
