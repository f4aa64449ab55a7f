import test from 'ava';
import type { Context } from 'koa';
import { Conflict, NotAllowed, NotFound, PolicyViolation } from '../../../src/errors.ts';
import { errorHandler } from '../../../src/http/errorHandler.ts';
import { tooManyRequests } from '../../../src/web/httpError.ts';

/** Just what the middleware touches of a Koa context. */
function fakeContext() {
  const headers: Record<string, string> = {};
  const logged: { level: string; msg: string }[] = [];
  const log = {
    warn: (_: unknown, msg: string) => logged.push({ level: 'warn', msg }),
    error: (_: unknown, msg: string) => logged.push({ level: 'error', msg }),
  };
  const ctx = {
    status: 404,
    body: undefined as unknown,
    method: 'GET',
    path: '/x',
    state: { log },
    set(h: Record<string, string>) {
      Object.assign(headers, h);
    },
  };
  return { ctx, headers, logged };
}

async function answer(err: unknown) {
  const fake = fakeContext();
  await errorHandler()(fake.ctx as unknown as Context, () => Promise.reject(err));
  return fake;
}

test('domain errors map to their statuses with their sentence as detail', async (t) => {
  t.like((await answer(new NotFound('User not found'))).ctx, { status: 404, body: { detail: 'User not found' } });
  t.like((await answer(new NotAllowed('No'))).ctx, { status: 403, body: { detail: 'No' } });
  t.like((await answer(new Conflict('Username already taken'))).ctx, {
    status: 409,
    body: { detail: 'Username already taken' },
  });
});

test('a policy violation is a FastAPI-shaped 422 naming the field', async (t) => {
  const { ctx } = await answer(new PolicyViolation('password', 'Password is too common'));
  t.is(ctx.status, 422);
  t.deepEqual(ctx.body, {
    detail: [{ loc: ['body', 'password'], msg: 'Password is too common', type: 'value_error' }],
  });
});

test('an HttpError keeps its headers (Retry-After on a 429)', async (t) => {
  const { ctx, headers } = await answer(tooManyRequests(7));
  t.is(ctx.status, 429);
  t.is(headers['Retry-After'], '7');
});

test('the database being away is a 503 with Retry-After, logged as a warning', async (t) => {
  const { ctx, headers, logged } = await answer(
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  );
  t.is(ctx.status, 503);
  t.truthy(headers['Retry-After']);
  t.is(logged[0]?.level, 'warn');
});

test('anything else is a generic 500 that says nothing of the inside, logged as an error', async (t) => {
  const { ctx, logged } = await answer(new TypeError('cannot read properties of undefined (reading secret)'));
  t.is(ctx.status, 500);
  t.deepEqual(ctx.body, { detail: 'Internal Server Error' });
  t.is(logged[0]?.level, 'error');
});

test('a 404 with no body gets the JSON detail', async (t) => {
  const fake = fakeContext();
  await errorHandler()(fake.ctx as unknown as Context, async () => {});
  t.deepEqual(fake.ctx.body, { detail: 'Not Found' });
  t.is(fake.ctx.status, 404);
});
