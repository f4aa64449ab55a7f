/**
 * The HTTP server's limits (slow headers, slow bodies, too many connections, one address holding
 * them) and a shutdown under load that resets no connection.
 */
import test from 'ava';
import { Agent, request } from 'node:http';
import net from 'node:net';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('http_server');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection that sends `text` and reports how and when the server ended it. */
function rawClient(port: number, text: string): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (d) => (answer += d));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ answer, ms: Date.now() - started }));
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

test.serial('a client that never finishes its headers is cut off after HEADERS_TIMEOUT_SECONDS', async (t) => {
  const api = await startApi(
    testConfig(tdb.url, { DUNDIE_API__HEADERS_TIMEOUT_SECONDS: '1', DUNDIE_API__REQUEST_TIMEOUT_SECONDS: '5' }),
  );
  t.teardown(() => api.service.stop());
  const { answer, ms } = await rawClient(
    api.service.port!,
    'POST /user/pwd_reset_token/ HTTP/1.1\r\nHost: x\r\nX-Slow: ',
  );
  t.true(ms < 3500, `closed after ${ms} ms`);
  t.regex(answer, /^HTTP\/1\.1 408/);
});

test.serial('a client that never finishes its body is cut off after REQUEST_TIMEOUT_SECONDS', async (t) => {
  const api = await startApi(
    testConfig(tdb.url, { DUNDIE_API__HEADERS_TIMEOUT_SECONDS: '1', DUNDIE_API__REQUEST_TIMEOUT_SECONDS: '2' }),
  );
  t.teardown(() => api.service.stop());
  const head =
    'POST /user/pwd_reset_token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":';
  const { ms } = await rawClient(api.service.port!, head);
  t.true(ms >= 1500 && ms < 4500, `closed after ${ms} ms`);
});

test.serial("the defaults are set on purpose, not Node's 60 s / 300 s", (t) => {
  const { api } = testConfig(tdb.url);
  t.like(api, {
    HEADERS_TIMEOUT_SECONDS: 10,
    REQUEST_TIMEOUT_SECONDS: 30,
    KEEP_ALIVE_TIMEOUT_SECONDS: 5,
    MAX_CONNECTIONS: 1024,
    MAX_CONNECTIONS_PER_CLIENT: 64,
  });
});

/** `count` idle connections from `from` (a loopback address of its own); resolves once all are open. */
function idleSockets(port: number, count: number, from: string): Promise<net.Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket>((r) => {
          const s = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => r(s));
          s.on('error', () => {});
        }),
    ),
  );
}

const openCount = (sockets: net.Socket[]) => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;

test.serial(
  'at MAX_CONNECTIONS a new client takes the place of an idle connection instead of being refused',
  async (t) => {
    const api = await startApi(
      testConfig(tdb.url, { DUNDIE_API__MAX_CONNECTIONS: '10', DUNDIE_API__MAX_CONNECTIONS_PER_CLIENT: '0' }),
    );
    t.teardown(() => api.service.stop());
    const port = api.service.port!;
    const hog = await idleSockets(port, 10, '127.0.0.2');
    t.teardown(() => hog.forEach((s) => s.destroy()));
    await sleep(100);
    for (let i = 0; i < 5; i++) {
      const res = await rawClient(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      t.regex(res.answer, /^HTTP\/1\.1 200/, `visitor ${i + 1} served`);
    }
    await sleep(100);
    // The first visitor took one idle connection's place; the others found the slot it left.
    t.is(openCount(hog), 9);
  },
);

test.serial('one address holds at most MAX_CONNECTIONS_PER_CLIENT; others are served meanwhile', async (t) => {
  const api = await startApi(
    testConfig(tdb.url, { DUNDIE_API__MAX_CONNECTIONS: '50', DUNDIE_API__MAX_CONNECTIONS_PER_CLIENT: '5' }),
  );
  t.teardown(() => api.service.stop());
  const port = api.service.port!;
  const hog = await idleSockets(port, 20, '127.0.0.3');
  t.teardown(() => hog.forEach((s) => s.destroy()));
  await sleep(200);
  t.is(openCount(hog), 5);
  const res = await rawClient(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.regex(res.answer, /^HTTP\/1\.1 200/);
});

test.serial('with every connection busy, a new one is closed as it arrives', async (t) => {
  const api = await startApi(
    testConfig(tdb.url, {
      DUNDIE_API__MAX_CONNECTIONS: '3',
      DUNDIE_API__MAX_CONNECTIONS_PER_CLIENT: '0',
      DUNDIE_API__HEADERS_TIMEOUT_SECONDS: '5',
      DUNDIE_API__REQUEST_TIMEOUT_SECONDS: '5',
    }),
  );
  t.teardown(() => api.service.stop());
  const port = api.service.port!;
  // Busy: each has sent its headers and is still sending its body.
  const busy = await idleSockets(port, 3, '127.0.0.4');
  t.teardown(() => busy.forEach((s) => s.destroy()));
  for (const s of busy)
    s.write(
      'POST /user/pwd_reset_token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
  await sleep(200);
  const extra = await rawClient(port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  t.is(extra.answer, '', 'the fourth connection was closed unanswered');
  t.is(openCount(busy), 3);
});

test.serial(
  'shutdown under keep-alive load resets no connection: in-flight answers carry Connection: close',
  async (t) => {
    t.timeout(60_000);
    const api = await startApi(testConfig(tdb.url));
    const port = api.service.port!;
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    t.teardown(() => agent.destroy());
    const outcomes = { ok: 0, closeHeader: 0, refused: 0, reset: [] as string[] };
    let stopping = false;
    const post = (i: number) =>
      new Promise<void>((resolve) => {
        const body = JSON.stringify({ email: `keepalive-${i}@dm.com` });
        const req = request(
          {
            port,
            host: '127.0.0.1',
            method: 'POST',
            path: '/user/pwd_reset_token/',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) outcomes.ok++;
              if (stopping && res.headers.connection === 'close') outcomes.closeHeader++;
              resolve();
            });
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A new connection still in the kernel's accept queue when the listener closes is reset,
          // not refused: it never reached the service, as a refused one did not.
          if (err.code === 'ECONNREFUSED' || (stopping && err.code === 'ECONNRESET' && !req.reusedSocket))
            outcomes.refused++;
          else
            outcomes.reset.push(`${err.code ?? err.message}${req.reusedSocket ? ' on a kept-alive connection' : ''}`);
          resolve();
        });
        req.end(body);
      });
    let n = 0;
    const loops = Array.from({ length: 50 }, async () => {
      while (outcomes.refused === 0) await post(n++);
    });
    await sleep(1500);
    stopping = true;
    const stopped = api.service.stop();
    await Promise.all(loops);
    await stopped;
    t.log(
      `${outcomes.ok} answered 200, ${outcomes.closeHeader} with Connection: close during shutdown, ${outcomes.reset.length} reset`,
    );
    t.true(outcomes.ok > 100);
    t.deepEqual(outcomes.reset, [], 'no request was reset');
  },
);

test.serial('shutdown: every answer not yet sent on a pipelined connection carries Connection: close', async (t) => {
  const api = await startApi(testConfig(tdb.url));
  const port = api.service.port!;
  // The outbox locked: both reset requests wait for their INSERT while the shutdown begins.
  const trx = await tdb.db.transaction();
  await trx.raw('LOCK TABLE outbox IN EXCLUSIVE MODE');
  const reset = (email: string) => {
    const body = JSON.stringify({ email });
    return `POST /user/pwd_reset_token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };
  const client = rawClient(port, reset('first@dm.com') + reset('second@dm.com'));
  await sleep(300);
  const stopped = api.service.stop();
  await sleep(100);
  await trx.commit();
  const { answer } = await client;
  await stopped;
  const first = answer.split('\r\n\r\n')[0]!;
  t.regex(first, /^HTTP\/1\.1 200/);
  t.regex(
    first,
    /\r\nConnection: close\r\n/i,
    'the first answer, unsent when the shutdown began, closes the connection',
  );
});
