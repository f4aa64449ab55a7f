/**
 * The floor of the stack Dundie is built on: Koa, koa-bodyparser and @koa/router answering
 * POST /user/pwd_reset_token/ with the same JSON, with none of Dundie's middleware and nothing
 * stored. What no Koa service can beat on this machine; bare `node:http` (bareHttp.ts) is the
 * limit without Koa. Prints its port, then serves.
 *
 * With `--store`, the floor that keeps the promise Dundie's 200 makes: each request's row is
 * committed to `outbox` (DATABASE_URL) before its answer, the rows of requests that arrive
 * together sharing one INSERT, one statement at a time (the group commit Dundie's enqueue uses).
 * It does not count a per-client limit, which Dundie's statement also does, so the distance to
 * Dundie is Dundie's per-request work and its limit's count.
 */
import Router from '@koa/router';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import process from 'node:process';
import pg from 'pg';

const message = 'If we found a user with that email, we sent a password reset token to it.';

/** Resolves once the row for `email` is committed; rows queued meanwhile go in the next INSERT. */
function groupCommitted(pool: pg.Pool): (email: string) => Promise<void> {
  let queued: { email: string; done: (err?: Error) => void }[] = [];
  let writing = false;
  const write = () => {
    if (writing || queued.length === 0) return;
    writing = true;
    const batch = queued;
    queued = [];
    pool
      .query({
        name: 'koa_floor_store',
        text: `INSERT INTO outbox (kind, payload, max_attempts)
               SELECT 'pwd_reset_email', json_build_object('email', e), 8 FROM unnest($1::text[]) e`,
        values: [batch.map((b) => b.email)],
      })
      .then(
        () => batch.forEach((b) => b.done()),
        (err: Error) => batch.forEach((b) => b.done(err)),
      )
      .finally(() => {
        writing = false;
        write();
      });
  };
  return (email) =>
    new Promise((resolve, reject) => {
      queued.push({ email, done: (err) => (err ? reject(err) : resolve()) });
      write();
    });
}

/** One connection: one statement is in flight at a time. */
function storePool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  // An idle connection the server drops is replaced at the next query; unhandled, it would end the process.
  pool.on('error', (err) => console.error(`koaFloor: ${err.message}`));
  return pool;
}

const store = process.argv.includes('--store') ? groupCommitted(storePool()) : undefined;

const app = new Koa();
app.use(bodyParser({ enableTypes: ['json', 'form'] }));
const router = new Router({ prefix: '/user' });
router.post('/pwd_reset_token', (ctx) => {
  const { email } = (ctx.request.body ?? {}) as { email?: unknown };
  if (typeof email !== 'string') {
    ctx.status = 422;
    ctx.body = { detail: 'bad request' };
    return;
  }
  if (!store) {
    ctx.body = { message };
    return;
  }
  return store(email).then(() => {
    ctx.body = { message };
  });
});
app.use(router.routes());
app.use(router.allowedMethods());
const server = app.listen(0, '127.0.0.1', () =>
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port })),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
