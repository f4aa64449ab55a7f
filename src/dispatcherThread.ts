/**
 * The dispatcher on a thread of its own (node:worker_threads, which Deno 2 implements too), so
 * that `npm start` and `dundie serve` use both cores: rendering and sending e-mails no longer
 * take turns with HTTP requests on the API's event loop.
 *
 * The thread is this same module, started with `workerData`. It opens its own pool on the URL
 * the parent resolved (with the embedded PostgreSQL: the server the parent started, never a
 * second one) and reports its figures to the parent's metrics, so /metrics stays one page.
 * `stop()` asks it to drain (SHUTDOWN_GRACE_SECONDS, as in-process) and waits for it to exit.
 * A thread that dies on its own is started again after a pause, as a process supervisor would.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Settings } from './config.ts';
import { openDatabase } from './db/database.ts';
import { createMailer } from './email/mailer.ts';
import { createLogger, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { Dispatcher } from './outbox/dispatcher.ts';
import type { DispatchMetrics } from './outbox/processRow.ts';
import { workerEntry } from './runtime.ts';
import { emailWorker } from './tasks/worker.ts';

const ROLE = 'dundie-dispatcher';

/** What the thread needs: the settings as the parent read them and the database it resolved. */
interface ThreadData {
  role: typeof ROLE;
  config: Settings;
  databaseUrl: string;
}

type MetricName = 'sent' | 'skipped' | 'failures' | 'sendSeconds' | 'delaySeconds';
/** One metric update: counters `inc(labels)`, histograms `observe(labels, value)`. */
type MetricOp = [MetricName, Record<string, string>, number?];

type ToParent =
  { type: 'started' | 'stopped' } | { type: 'failed'; message: string } | { type: 'metrics'; ops: MetricOp[] };

export interface DispatcherThread {
  stop(): Promise<void>;
}

/** Applies updates from the thread to the parent's registry. */
function applyMetrics(metrics: Metrics, ops: MetricOp[]) {
  for (const [name, labels, value] of ops) {
    if (name === 'sendSeconds' || name === 'delaySeconds') metrics[name].observe(labels, value!);
    else (metrics[name].inc as (labels: Record<string, string>) => void)(labels);
  }
}

/** Starts the thread and resolves once its dispatcher runs (or rejects when it could not start). */
export async function startDispatcherThread(
  config: Settings,
  databaseUrl: string,
  log: Logger,
  metrics: Metrics,
): Promise<DispatcherThread> {
  const { entry, eval: isCode } = workerEntry(import.meta.url);
  let worker: Worker;
  let stopping = false;
  let exited: Promise<number>;
  let restarts = 0;

  let startedAt = 0;
  /** Until one starts: a failed start is retried with the same growing pause, never given up. */
  const respawnLater = (code?: number) => {
    const pause = Math.min(1000 * 2 ** restarts++, 30_000);
    log.error({ code, restartInMs: pause }, 'dispatcher thread exited: starting another');
    setTimeout(() => {
      if (stopping) return;
      spawn().catch((err) => {
        log.error({ err }, 'dispatcher thread did not start again');
        respawnLater();
      });
    }, pause).unref();
  };

  const spawn = () =>
    new Promise<void>((resolve, reject) => {
      worker = new Worker(entry, {
        eval: isCode,
        workerData: { role: ROLE, config, databaseUrl } satisfies ThreadData,
        // Its live data is a few MB (a batch of rows in flight): bounded so that its garbage does
        // not grow towards limits sized from the host's memory next to the API's (the RSS target
        // of issue 15). A --max-old-space-size given to the process overrides the second one.
        resourceLimits: { maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 64 },
      });
      let started = false;
      worker.on('message', (message: ToParent) => {
        if (message.type === 'metrics') applyMetrics(metrics, message.ops);
        // Drained and closed, its last figures sent before this: Deno's threads do not end by
        // themselves when there is nothing left to do, so the parent ends it.
        else if (message.type === 'stopped') void worker.terminate();
        else if (message.type === 'started') {
          started = true;
          startedAt = Date.now();
          resolve();
        } else if (message.type === 'failed') {
          reject(new Error(`dispatcher thread: ${message.message}`));
          void worker.terminate();
        }
      });
      worker.on('error', (err) => {
        log.error({ err }, 'dispatcher thread failed');
        if (!started) reject(err);
      });
      exited = new Promise((done) =>
        worker.once('exit', (code) => {
          done(code);
          if (!started) reject(new Error(`dispatcher thread exited (${code}) before it started`));
          else if (!stopping) {
            // Rows it held go back when their leases lapse; a new thread takes them and what comes next.
            // A thread that had run a while crashed afresh: start the backoff over.
            if (Date.now() - startedAt > 60_000) restarts = 0;
            respawnLater(code);
          }
        }),
      );
    });

  await spawn();
  return {
    async stop() {
      stopping = true;
      worker.postMessage('stop');
      // The thread drains within SHUTDOWN_GRACE_SECONDS after handing back what it had not started
      // (a claim and a hand-back, each up to a database deadline); past that and a little, cut it.
      const budget = config.dispatcher.SHUTDOWN_GRACE_SECONDS + 2 * config.database.TIMEOUT_SECONDS + 2;
      const deadline = setTimeout(() => void worker.terminate(), budget * 1000);
      await exited;
      clearTimeout(deadline);
    },
  };
}

/** Inside the thread: metrics that travel to the parent, a few at a time. */
function forwardedMetrics(post: (message: ToParent) => void): DispatchMetrics & { flush(): void } {
  let ops: MetricOp[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    post({ type: 'metrics', ops });
    ops = [];
  };
  const push = (op: MetricOp) => {
    ops.push(op);
    timer ??= setTimeout(flush, 50);
  };
  const counter = (name: MetricName) => ({ inc: (labels: Record<string, string>) => push([name, labels]) });
  const histogram = (name: MetricName) => ({
    observe: (labels: Record<string, string>, value: number) => push([name, labels, value]),
  });
  return {
    sent: counter('sent'),
    skipped: counter('skipped'),
    failures: counter('failures'),
    sendSeconds: histogram('sendSeconds'),
    delaySeconds: histogram('delaySeconds'),
    // Drained before the thread exits: see `stop` below.
    flush: () => {
      if (!timer) return;
      clearTimeout(timer);
      flush();
    },
  };
}

async function runThread({ config, databaseUrl }: ThreadData) {
  const port = parentPort!;
  const post = (message: ToParent) => port.postMessage(message);
  const log = createLogger(config).child({ role: 'dispatcher' });
  const metrics = forwardedMetrics(post);
  try {
    const database = await openDatabase({ ...config, databaseUrl }, log);
    const mailer = createMailer(config.email);
    const dispatcher = new Dispatcher(emailWorker({ db: database.db, config, mailer, log, metrics }), {
      listen: database.listen,
    });
    port.on('message', async (message) => {
      if (message !== 'stop') return;
      await dispatcher.stop();
      mailer.close();
      await database.close();
      metrics.flush();
      // Pino flushes on exit in the main thread only; the parent ends this one when told.
      await new Promise<void>((resolve) => log.flush(() => resolve()));
      post({ type: 'stopped' });
    });
    post({ type: 'started' });
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message });
  }
}

if (!isMainThread && (workerData as ThreadData | undefined)?.role === ROLE) await runThread(workerData as ThreadData);
