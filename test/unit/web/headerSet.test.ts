import test from 'ava';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { setHeadersDirectly } from '../../../src/web/headerSet.ts';

/** A Koa app with the direct header set, answering each request with `handle`, on a port of its own. */
async function answered(handle: Koa.Middleware) {
  const app = new Koa();
  app.silent = true;
  setHeadersDirectly(app);
  app.use(handle);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { headers: res.headers, text: await res.text() };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a header set with one value is sent as it was given', async (t) => {
  const res = await answered((ctx) => {
    ctx.set('X-Request-Id', 'abc');
    ctx.set('Retry-After', 30 as unknown as string);
    ctx.body = { ok: true };
  });
  t.is(res.headers.get('x-request-id'), 'abc');
  t.is(res.headers.get('retry-after'), '30');
  t.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(res.headers.get('content-length'), '11');
});

test('an object of headers and a header with a list of values are all sent', async (t) => {
  const res = await answered((ctx) => {
    ctx.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    ctx.set('Link', ['<a>', '<b>']);
    ctx.body = 'ok';
  });
  t.is(res.headers.get('cache-control'), 'no-store');
  t.is(res.headers.get('pragma'), 'no-cache');
  t.is(res.headers.get('link'), '<a>, <b>');
});

test('a single-value header given two values is refused, as Koa refuses it', async (t) => {
  const res = await answered((ctx) => {
    try {
      ctx.set('Content-Type', ['text/plain', 'text/html']);
      ctx.body = 'set';
    } catch {
      ctx.body = 'refused';
    }
  });
  t.is(res.text, 'refused');
});

test('a header set once the headers are sent is ignored', async (t) => {
  const res = await answered((ctx) => {
    ctx.respond = false;
    ctx.res.writeHead(200, { 'Content-Type': 'text/plain' });
    ctx.set('X-Late', 'too late');
    ctx.res.end('done');
  });
  t.is(res.headers.get('x-late'), null);
  t.is(res.text, 'done');
});

test('every call ends as Koa’s own set would end it: the same headers, or the same error', (t) => {
  type HeaderSet = (this: unknown, ...args: unknown[]) => void;
  const koaSet = Reflect.get(new Koa().response, 'set') as HeaderSet;
  const app = new Koa();
  setHeadersDirectly(app);
  const directSet = Reflect.get(app.response, 'set') as HeaderSet;
  const outcome = (set: HeaderSet, headerSent: boolean, args: unknown[]) => {
    const written: unknown[] = [];
    const response = { headerSent, res: { setHeader: (...header: unknown[]) => written.push(header) } };
    try {
      set.apply(response, args);
      return { written };
    } catch (err) {
      return { written, error: (err as Error).message };
    }
  };
  const calls: unknown[][] = [
    ['X-Request-Id', 'abc'],
    ['Content-Length', 42],
    ['Retry-After', 0],
    ['X-Flag', true],
    ['X-Empty', ''],
    ['X-Missing', undefined],
    ['X-Null', null],
    ['', 'no name'],
    [undefined, 'no name'],
    ['Link', ['<a>', '<b>']],
    ['Content-Type', ['text/plain']],
    ['Content-Type', ['text/plain', 'text/html']],
    ['Content-Type', []],
    [{ 'Cache-Control': 'no-store', Pragma: 'no-cache' }],
    [{ 'Content-Type': ['a', 'b'] }],
  ];
  for (const headerSent of [false, true])
    for (const args of calls)
      t.deepEqual(outcome(directSet, headerSent, args), outcome(koaSet, headerSent, args), JSON.stringify(args));
});
