/**
 * Issue 21, item 8: the dispatcher of `npm start` runs on a thread with a heap limit of its own.
 * Rows each under the claim's payload bound can together be far over that heap: the claim hands
 * them over in parts, so the thread never dies reading a batch it would claim again on restart.
 * And when the thread dies all the same, the API goes on and the thread is started again.
 */
import inspector from 'node:inspector';
import test from 'ava';
import { PWD_RESET_EMAIL } from '../src/tasks/kinds.ts';
import { testConfig } from './helpers/config.ts';
import { useTestDatabase } from './helpers/db.ts';
import { makeUser } from './helpers/factories.ts';
import { startApi } from './helpers/service.ts';
import { smtpEnv, startSmtpSink } from './helpers/smtp.ts';
import { waitUntil } from './helpers/wait.ts';

const tdb = useTestDatabase('dispatcher_thread', { clean: ['outbox'] });

/** Rows each under the claim's payload bound, together far over the thread's heap. */
const ROWS = 1500;
const PAD_BYTES = 60_000;

const metric = async (metricsBase: string, name: string) => {
  const text = await fetch(`${metricsBase}/metrics`).then((r) => r.text());
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

/**
 * Ends the threads this one started, as a crash would (`process.exit` in a thread ends the
 * thread), through the inspector; other threads (module loaders, esbuild) are left alone. The
 * exit is timed for after the inspector has let go: a thread ending while attached can take
 * Node down with it. Returns what it found, loaders included.
 */
/**
 * The dispatcher thread's entry: its module, or under tsx the code that loads it (no URL). Module
 * loaders and esbuild run on threads of their own (node:internal/…, esbuild's main.js).
 */
const isDispatcherThread = (url: string) => url === '' || /\/dispatcherThread\.(ts|js)$/.test(url);

async function crashChildThreads(): Promise<{ ended: number; seen: string[] }> {
  const session = new inspector.Session();
  session.connect();
  const seen: string[] = [];
  let ended = 0;
  session.on('NodeWorker.attachedToWorker', ({ params }) => {
    seen.push(params.workerInfo.url || '(eval)');
    if (!isDispatcherThread(params.workerInfo.url)) return;
    const expression = 'setTimeout(() => process.exit(70), 1000), true';
    session.post('NodeWorker.sendMessageToWorker', {
      sessionId: params.sessionId,
      message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } }),
    });
  });
  session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
    if (JSON.parse(params.message).id === 1) ended += 1;
  });
  await new Promise<void>((resolve, reject) =>
    session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) => (err ? reject(err) : resolve())),
  );
  try {
    // Threads already running are announced just after enabling; on a loaded machine, a while after.
    await waitUntil(() => ended > 0, 'a thread to take the exit', 10_000).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await new Promise<void>((resolve) => session.post('NodeWorker.disable', () => resolve()));
    session.disconnect();
  }
  return { ended, seen };
}

test.serial(
  'the dispatcher thread crashing leaves the API serving; the thread is started again and sends',
  async (t) => {
    const smtp = await startSmtpSink();
    t.teardown(() => smtp.close());
    const user = await makeUser(tdb.db);
    const api = await startApi(testConfig(tdb.url, smtpEnv(smtp)), { api: true, dispatcher: true });
    t.teardown(() => api.service.stop());

    const { ended, seen } = await crashChildThreads();
    t.is(ended, 1, `one dispatcher thread among the threads found: ${seen.join(', ')}`);
    await waitUntil(
      async () => (await metric(api.metricsBase, 'dundie_dispatcher_thread_up')) === 0,
      'the thread to end',
      15_000,
    );
    const answer = await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
    t.is(answer.status, 200, 'the API answers while no dispatcher runs');
    await smtp.waitFor(1, 20_000);
    t.deepEqual(smtp.recipients, [user.email], 'the new thread sends what was asked meanwhile');
    t.is(await metric(api.metricsBase, 'dundie_dispatcher_thread_restarts_total'), 1);
    t.is(await metric(api.metricsBase, 'dundie_dispatcher_thread_up'), 1);
  },
);

test.serial(
  'rows whose payloads together exceed the thread heap are claimed in parts: the thread lives, every row ends',
  async (t) => {
    t.timeout(180_000);
    const smtp = await startSmtpSink();
    t.teardown(() => smtp.close());
    const user = await makeUser(tdb.db);
    // In parts, each well inside the test connection's query timeout on a loaded machine.
    for (let first = 1; first <= ROWS; first += 100) {
      await tdb.db.raw(
        `INSERT INTO outbox (kind, payload)
       SELECT ?, jsonb_build_object('email', 'nobody-' || g || '@example.com', 'pad', repeat(md5(g::text), ? / 32))
       FROM generate_series(?::int, ?::int) g`,
        [PWD_RESET_EMAIL, PAD_BYTES, first, Math.min(first + 99, ROWS)],
      );
    }
    const config = testConfig(tdb.url, {
      ...smtpEnv(smtp),
      DUNDIE_DISPATCHER__BATCH_SIZE: String(ROWS),
      DUNDIE_DISPATCHER__CONCURRENCY: String(ROWS),
    });
    const api = await startApi(config, { api: true, dispatcher: true });
    t.teardown(() => api.service.stop());
    await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });

    await smtp.waitFor(1, 120_000);
    t.deepEqual(smtp.recipients, [user.email]);
    const left = async () =>
      Number(
        (await tdb.db('outbox').whereNot({ status: 'skipped' }).whereNot({ status: 'sent' }).count({ n: '*' }))[0]!.n,
      );
    await waitUntil(async () => (await left()) === 0, 'every row to end', 120_000);
    t.is(await metric(api.metricsBase, 'dundie_dispatcher_thread_restarts_total'), 0);
    t.is(await metric(api.metricsBase, 'dundie_dispatcher_thread_up'), 1);
  },
);
