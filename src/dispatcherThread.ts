/**
 * The dispatcher on a thread of its own (node:worker_threads, which Deno 2 implements too), so
 * that `npm start` and `dundie serve` use both cores: rendering and sending e-mails do not take
 * turns with HTTP requests on the API's event loop.
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
import { exponential } from './delays.ts';
import { createLogger, type Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { DispatchMetrics } from './outbox/processRow.ts';
import { retrying } from './retrying.ts';
import { workerEntry } from './runtime.ts';

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

/** A thread that keeps crashing is restarted less and less often, as a process supervisor does. */
const RESTART_DELAY = exponential({ first: 1000, max: 30_000 });

class ThreadExited extends Error {
  constructor(readonly code: number) {
    super(`dispatcher thread exited (${code})`);
  }
}

/** Applies updates from the thread to the parent's registry. */
function applyMetrics(metrics: Metrics, ops: MetricOp[]) {
  for (const [name, labels, value] of ops) {
    if (name === 'sendSeconds' || name === 'delaySeconds') metrics[name].observe(labels, value!);
    else (metrics[name].inc as (labels: Record<string, string>) => void)(labels);
  }
}

interface RunningThread {
  worker: Worker;
  /** Resolves once its dispatcher runs; rejects when it could not start. */
  started: Promise<void>;
  /** Its exit code, once it has ended. */
  exited: Promise<number>;
}

/** One thread: its messages applied (metrics, started, stopped, failed), its up gauge kept. */
function spawnThread(data: ThreadData, log: Logger, metrics: Metrics): RunningThread {
  const { entry, eval: isCode } = workerEntry(import.meta.url);
  const worker = new Worker(entry, {
    eval: isCode,
    workerData: data,
    // Its live data is the rows in flight (payloads bounded at the claim): bounded so that its
    // garbage does not grow towards limits sized from the host's memory next to the API's (the
    // peak RSS of docs/performance.md). A --max-old-space-size given to the process overrides
    // the second one.
    resourceLimits: { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 64 },
  });
  let started = false;
  let exited!: Promise<number>;
  const running = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: ToParent) => {
      if (message.type === 'metrics') applyMetrics(metrics, message.ops);
      // Drained and closed, its last figures sent before this: Deno's threads do not end by
      // themselves when there is nothing left to do, so the parent ends it.
      else if (message.type === 'stopped') void worker.terminate();
      else if (message.type === 'started') {
        started = true;
        metrics.dispatcherThreadUp.set(1);
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
        metrics.dispatcherThreadUp.set(0);
        if (!started) reject(new Error(`dispatcher thread exited (${code}) before it started`));
      }),
    );
  });
  return { worker, started: running, exited };
}

/** Starts the thread and resolves once its dispatcher runs (or rejects when it could not start). */
export async function startDispatcherThread(
  config: Settings,
  databaseUrl: string,
  log: Logger,
  metrics: Metrics,
): Promise<DispatcherThread> {
  const stopping = new AbortController();
  let thread = spawnThread({ role: ROLE, config, databaseUrl }, log, metrics);
  const spawn = () => {
    thread = spawnThread({ role: ROLE, config, databaseUrl }, log, metrics);
    return thread.started;
  };

  await thread.started;
  // Each try runs a thread until it exits. Rows it held go back when their leases lapse; a new
  // thread takes them and what comes next. A failed start is retried too, never given up.
  void retrying(
    async (attempt) => {
      if (attempt > 1) await spawn();
      const code = await thread.exited;
      if (stopping.signal.aborted) return;
      metrics.dispatcherThreadRestarts.inc();
      throw new ThreadExited(code);
    },
    {
      delay: RESTART_DELAY,
      // A thread that had run a while crashed afresh, not again: the pauses start over.
      startOverAfterMs: 60_000,
      signal: stopping.signal,
      onRetry: (err, _, restartInMs) => {
        if (err instanceof ThreadExited)
          log.error({ code: err.code, restartInMs }, 'dispatcher thread exited: starting another');
        else log.error({ err, restartInMs }, 'dispatcher thread did not start again');
      },
    },
  ).catch((err: unknown) => {
    if (!stopping.signal.aborted) log.error({ err }, 'dispatcher thread is no longer restarted');
  });
  return {
    async stop() {
      stopping.abort();
      thread.worker.postMessage('stop');
      // The thread drains within SHUTDOWN_GRACE_SECONDS after handing back what it had not started
      // (a claim and a hand-back, each up to a database deadline); past that and a little, cut it.
      const budget = config.dispatcher.SHUTDOWN_GRACE_SECONDS + 2 * config.database.TIMEOUT_SECONDS + 2;
      const deadline = setTimeout(() => void thread.worker.terminate(), budget * 1000);
      await thread.exited;
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
    // Here, not at the top: the parent imports this module too, and runs no task itself.
    const { createEmailDispatcher } = await import('./tasks/emailDispatcher.ts');
    const dispatcher = createEmailDispatcher({ db: database.db, config, log, metrics }, { listen: database.listen });
    port.on('message', async (message) => {
      if (message !== 'stop') return;
      await dispatcher.stop();
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
