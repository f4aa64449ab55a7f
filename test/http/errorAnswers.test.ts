/**
 * How the API answers what it cannot serve (malformed or oversized bodies, unknown routes and
 * methods, invalid fields) in the JSON error shape, and keeps serving after it. The error
 * middleware's mapping alone, on a fake context: test/unit/http/errorHandler.test.ts.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { crc32 } from 'node:zlib';
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('errors');
let api: Api;
test.before(async () => {
  api = await startApi(testConfig(tdb.url));
  tdb.teardown(() => api.service.stop());
});

const ask = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  api.request('POST', '/user/pwd_reset_token/', { body, headers });
const outboxCount = async () => Number((await tdb.db('outbox').count({ n: '*' }))[0]!.n);

test('malformed JSON is 400 in the error shape', async (t) => {
  const res = await ask('{"email": ');
  t.is(res.status, 400);
  t.deepEqual(res.body, { detail: 'Malformed JSON in request body' });
});

test('a body over the limit is 413', async (t) => {
  const res = await ask(JSON.stringify({ email: 'a@dm.com', pad: 'x'.repeat(200 * 1024) }));
  t.is(res.status, 413);
  t.deepEqual(res.body, { detail: 'Request body is too large' });
});

/** A last, stored deflate block holding `text`, and the gzip trailer. */
function storedBlock(text: string): Buffer {
  const data = Buffer.from(text);
  const head = Buffer.alloc(5);
  head.writeUInt8(1, 0);
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, trailer]);
}

test('a body is read only by its route, after the caller is checked, up to what that route needs', async (t) => {
  // 247 characters, each written as a \uXXXX escape: the largest reset request a client could mean.
  const escaped = `{"email": "${'\\u00e9'.repeat(240)}@dm.com", "locale": "pt-BR"}`;
  t.is((await ask(escaped)).status, 422, 'read and validated, not refused for its size');
  const padded = await ask(JSON.stringify({ email: 'a@dm.com', pad: 'x'.repeat(5 * 1024) }));
  t.is(padded.status, 413, 'a reset request takes 4 KB');
  t.deepEqual(padded.body, { detail: 'Request body is too large' });
  const page = await api.request('POST', '/reset_password', {
    body: `email=a%40dm.com&pad=${'x'.repeat(5 * 1024)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
  });
  t.is(page.status, 413, "so does the page's form");
  const login = (kb: number) =>
    api.request('POST', '/token', {
      body: `username=nobody&password=secret&pad=${'x'.repeat(kb * 1024)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  t.is((await login(20)).status, 401, 'a 20 KB login form is read and answered');
  t.is((await login(40)).status, 413, 'a login takes 32 KB');
  // 10 KB on the wire that decode to 21 bytes (empty deflate blocks): refused by its declared size.
  const inflated = Buffer.concat([
    Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]),
    ...Array.from({ length: 2000 }, () => Buffer.from([0, 0, 0, 0xff, 0xff])),
    storedBlock('{"email": "a@dm.com"}'),
  ]);
  const bomb = await fetch(`${api.base}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: inflated,
  });
  t.is(bomb.status, 413, 'a compressed body is held to the limit on the wire too');
  const profile = await api.request('PATCH', '/user/nobody', {
    body: JSON.stringify({ bio: 'x'.repeat(60 * 1024) }),
    headers: { 'content-type': 'application/json' },
  });
  t.is(profile.status, 401, 'without a token the profile route reads nothing: 401, not 413 or 422');
});

test('an unknown route is a JSON 404', async (t) => {
  const res = await api.request('GET', '/nowhere');
  t.is(res.status, 404);
  t.deepEqual(res.body, { detail: 'Not Found' });
  t.regex(res.headers.get('content-type') ?? '', /application\/json/);
});

test('a wrong method is a JSON 405', async (t) => {
  const res = await api.request('DELETE', '/token');
  t.is(res.status, 405);
  t.deepEqual(res.body, { detail: 'Method Not Allowed' });
});

test("a wrong method on the reset request's path is a JSON 405 whose Allow lists every route on that path", async (t) => {
  for (const path of ['/user/pwd_reset_token/', '/user/pwd_reset_token']) {
    const res = await api.request('DELETE', path);
    t.is(res.status, 405, path);
    t.deepEqual(res.body, { detail: 'Method Not Allowed' });
    // POST is the reset request's; GET and PATCH are the `/user/:username/` routes that path also matches.
    t.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'HEAD', 'PATCH', 'POST'], path);
  }
});

for (const [label, body] of [
  ['a missing e-mail', {}],
  ['a number', { email: 42 }],
  ['no @', { email: 'not-an-address' }],
  ['no domain dot', { email: 'someone@localhost' }],
  ['a header-injection attempt', { email: 'a@dm.com\r\nBcc: everyone@dm.com' }],
  ['a control character', { email: 'a\u0000b@dm.com' }],
  ['255 characters', { email: `${'a'.repeat(64)}@${'b'.repeat(186)}.com` }],
  ['a list instead of an object', ['a@dm.com']],
] as const) {
  test.serial(`reset request with ${label} is 422 and queues nothing`, async (t) => {
    const before = await outboxCount();
    const res = await ask(JSON.stringify(body));
    t.is(res.status, 422);
    t.true(Array.isArray(res.body.detail));
    t.is(typeof res.body.detail[0].msg, 'string');
    t.deepEqual(res.body.detail[0].loc.slice(0, 1), ['body']);
    t.is(await outboxCount(), before);
  });
}

test.serial('the longest allowed address (254) is accepted', async (t) => {
  const res = await ask(JSON.stringify({ email: `${'a'.repeat(64)}@${'b'.repeat(185)}.com` }));
  t.is(res.status, 200);
});

test('validation errors name the field, FastAPI style', async (t) => {
  const res = await api.request('POST', '/token', { json: { username: 'x' } });
  t.is(res.status, 422);
  t.deepEqual(res.body.detail, [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }]);
});

test('the service keeps serving after bad input', async (t) => {
  await ask('{{{{');
  await ask('x'.repeat(300 * 1024));
  const res = await ask(JSON.stringify({ email: 'fine@dm.com' }));
  t.is(res.status, 200);
});

test('GET /health answers ok', async (t) => {
  const res = await api.request('GET', '/health');
  t.is(res.status, 200);
  t.deepEqual(res.body, { status: 'ok' });
});

/** Sends `head` and `bodyPart` on one connection; resolves with what came back once the server closes it. */
function rawExchange(head: string, bodyPart: string): Promise<{ answer: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(api.base).port), '127.0.0.1');
    let answer = '';
    const gaveUp = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closedByServer: false });
    }, 5000);
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('end', () => {
      clearTimeout(gaveUp);
      socket.destroy();
      resolve({ answer, closedByServer: true });
    });
    socket.on('error', reject);
    socket.write(head + bodyPart);
  });
}

test('a body refused unread closes the connection instead of being read to its end', async (t) => {
  const declared = 200 * 1024;
  const { answer, closedByServer } = await rawExchange(
    `POST /user/pwd_reset_token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
    '{"email": "',
  );
  t.regex(answer, /^HTTP\/1\.1 413 /);
  t.regex(answer, /\r\nconnection: close\r\n/i);
  t.true(closedByServer, 'the server closed the connection without waiting for the 200 KB announced');
});

test('a body that was read leaves the connection open for the next request', async (t) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  for (let i = 0; i < 2; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${api.base}/user/pwd_reset_token/`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          sockets.add(req.socket);
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ email: `kept-${i}@dm.com` }));
    });
    t.is(status, 200);
  }
  t.is(sockets.size, 1, 'both requests went over one connection');
});
