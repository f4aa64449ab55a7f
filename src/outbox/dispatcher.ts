/**
 * Works the outbox. `processRow` sends one claimed row and records how it ended;
 * `dispatchOnce()` claims a batch and works it, a plain function that the CLI (`dispatch
 * --once`) and the tests call. `startDispatcher()` is the long-running role: it keeps up to
 * CONCURRENCY rows in flight, wakes on LISTEN/NOTIFY, and node-cron only triggers it as a safety
 * net and runs housekeeping.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';
import cron from 'node-cron';
import type { Settings } from '../config.ts';
import type { Db } from '../db.ts';
import { GroupCommit } from '../groupCommit.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { pruneRateLimits } from '../security/rateLimits.ts';
import { listenForOutbox, type Listener } from './listener.ts';
import type { Mailer } from './mailer.ts';
import { PWD_CHANGED_EMAIL, sendPwdChangedEmail } from './pwdChangedEmail.ts';
import { newResetNonce, NO_SUCH_USER, PWD_RESET_EMAIL, sendPwdResetEmail, THROTTLED, type SendOutcome } from './pwdResetEmail.ts';
import { claimDue, deleteFinished, finishMany, markFailed, release, renewLeases, type Finish, type OutboxRow } from './queries.ts';
import { pruneResetSlots, takeResetSlotsAndRenewNonces, type SlotOutcome, type SlotRequest } from './throttle.ts';

export interface DispatcherDeps {
  db: Db;
  config: Settings;
  mailer: Mailer;
  log: Logger;
  /** Written to `locked_by`, so operators can tell which process holds a row. */
  workerId: string;
  metrics?: Metrics;
}

export interface DispatchResult {
  claimed: number;
  sent: number;
  skipped: number;
  failed: number;
  /** Claimed but handed back unstarted because a stop was asked for. */
  released: number;
}

type Outcome = 'sent' | 'skipped' | 'failed';
type Handler = (deps: DispatcherDeps, row: OutboxRow, writes: GroupWrites) => Promise<SendOutcome>;

const handlers: Record<string, Handler> = {
  async [PWD_RESET_EMAIL](deps, row, writes) {
    const { allowed, user } = await writes.takeSlot({ email: String(row.payload.email), outboxId: row.id, nonce: newResetNonce() });
    if (!allowed) return { sent: false, skipped: THROTTLED };
    if (!user) return { sent: false, skipped: NO_SUCH_USER };
    await sendPwdResetEmail(deps, user, typeof row.payload.locale === 'string' ? row.payload.locale : undefined);
    return { sent: true };
  },
  [PWD_CHANGED_EMAIL]: (deps, row) => sendPwdChangedEmail(deps, row.payload),
};

export const newWorkerId = () => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** Seconds before the next try after `attempts` failed ones: base, 2×base, 4×base, … capped. */
export function backoffSeconds(dispatcher: Settings['dispatcher'], attempts: number): number {
  return Math.min(dispatcher.BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), dispatcher.BACKOFF_MAX_SECONDS);
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Records an outcome, retrying while the database is away (a restart, a failover) for up to half
 * the lease: an e-mail that went out should not go out again just because its `sent` was lost.
 */
async function record<T>(deps: DispatcherDeps, write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (deps.config.dispatcher.LEASE_SECONDS * 1000) / 2;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() + pause > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/**
 * The two writes every row makes, each a group commit: rows in flight together share one
 * statement (and one commit) to take their throttle slots, and one to record how they ended.
 */
export interface GroupWrites {
  takeSlot(request: SlotRequest): Promise<SlotOutcome>;
  finish(finish: Finish): Promise<boolean>;
}

export function groupWrites({ db, workerId, config }: Pick<DispatcherDeps, 'db' | 'workerId' | 'config'>): GroupWrites {
  const cooldown = config.security.PWD_RESET_COOLDOWN_SECONDS;
  // One address twice in a batch (an address being bombed) is refused whole with 21000: then the
  // batch goes one by one, in order, as if the rows had come alone.
  const slots = new GroupCommit((batch: SlotRequest[]) => takeResetSlotsAndRenewNonces(db, cooldown, batch), {
    writeOne: async (request) => (await takeResetSlotsAndRenewNonces(db, cooldown, [request]))[0]!,
  });
  const finishes = new GroupCommit((batch: Finish[]) => finishMany(db, workerId, batch));
  return { takeSlot: (request) => slots.add(request), finish: (finish) => finishes.add(finish) };
}

/**
 * Sends one claimed row and records the outcome, its writes shared with the rows in flight
 * beside it (`writes`). Never throws: a failure is recorded or left to the lease.
 */
export async function processRow(deps: DispatcherDeps, row: OutboxRow, writes: GroupWrites = groupWrites(deps)): Promise<Outcome> {
  const { db, workerId, log, config, metrics } = deps;
  const rowLog = log.child({ outboxId: row.id, kind: row.kind, attempt: row.attempts + 1 });
  const started = performance.now();
  try {
    const handler = handlers[row.kind];
    // An unknown kind may come from a newer release during a rolling deploy: retry, don't drop.
    if (!handler) throw new Error(`no handler for kind "${row.kind}"`);
    const outcome = await handler(deps, row, writes);
    if (outcome.sent) {
      metrics?.sendSeconds.observe({ kind: row.kind }, (performance.now() - started) / 1000);
      await record(deps, () => writes.finish({ id: row.id, status: 'sent', reason: null }));
      metrics?.sent.inc({ kind: row.kind });
      metrics?.delaySeconds.observe({ kind: row.kind }, (Date.now() - new Date(row.created_at).getTime()) / 1000);
      rowLog.info('sent');
      return 'sent';
    }
    await record(deps, () => writes.finish({ id: row.id, status: 'skipped', reason: outcome.skipped }));
    metrics?.skipped.inc({ kind: row.kind, reason: outcome.skipped });
    rowLog.info({ reason: outcome.skipped }, 'skipped');
    return 'skipped';
  } catch (err) {
    metrics?.failures.inc({ kind: row.kind });
    const retryIn = backoffSeconds(config.dispatcher, row.attempts + 1);
    try {
      const status = await record(deps, () => markFailed(db, row.id, workerId, errorText(err), retryIn));
      rowLog.warn({ err: errorText(err), status, retryInSeconds: status === 'pending' ? retryIn : undefined }, 'send failed');
    } catch (dbErr) {
      // The lease will lapse and the row will be tried again: nothing is lost.
      rowLog.error({ err: errorText(dbErr) }, 'could not record the failure; the lease will hand the row on');
    }
    return 'failed';
  }
}

/** Runs `work` over `items` with at most `limit` at once; unstarted items are returned when `shouldStop()`. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>, shouldStop: () => boolean): Promise<T[]> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !shouldStop()) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return items.slice(next);
}

/**
 * Claims one batch and works it, CONCURRENCY rows at a time. Rows still unstarted when
 * `shouldStop()` turns true are handed back so that another dispatcher can take them at once.
 */
export async function dispatchOnce(deps: DispatcherDeps, shouldStop: () => boolean = () => false): Promise<DispatchResult> {
  const { BATCH_SIZE, LEASE_SECONDS, CONCURRENCY } = deps.config.dispatcher;
  const rows = await claimDue(deps.db, deps.workerId, BATCH_SIZE, LEASE_SECONDS);
  const result: DispatchResult = { claimed: rows.length, sent: 0, skipped: 0, failed: 0, released: 0 };
  const writes = groupWrites(deps);
  const unstarted = await eachLimited(
    rows,
    CONCURRENCY,
    async (row) => {
      const outcome = await processRow(deps, row, writes);
      result[outcome]++;
    },
    shouldStop,
  );
  if (unstarted.length > 0) result.released = await release(deps.db, unstarted.map((r) => r.id), deps.workerId);
  return result;
}

/** Batch after batch until nothing is due (or a stop is asked for). */
export async function dispatchUntilIdle(deps: DispatcherDeps, shouldStop: () => boolean = () => false): Promise<DispatchResult> {
  const total: DispatchResult = { claimed: 0, sent: 0, skipped: 0, failed: 0, released: 0 };
  for (;;) {
    const r = await dispatchOnce(deps, shouldStop);
    for (const key of Object.keys(total) as (keyof DispatchResult)[]) total[key] += r[key];
    if (r.claimed < deps.config.dispatcher.BATCH_SIZE || shouldStop()) return total;
  }
}

/** Old finished rows, spent throttle slots and rate-limit windows: deleted in small batches. */
export async function housekeeping({ db, config }: Pick<DispatcherDeps, 'db' | 'config'>) {
  const day = 24 * 3600;
  return {
    outboxRows: await deleteFinished(db, config.outbox.RETENTION_DAYS),
    throttleSlots: await pruneResetSlots(db, Math.max(config.security.PWD_RESET_COOLDOWN_SECONDS, 3600)),
    rateLimitWindows: await pruneRateLimits(db, Math.max(config.security.LOGIN_FAILURE_WINDOW_SECONDS, day / 24)),
  };
}

export interface RunningDispatcher {
  /** Claims now instead of at the next tick (a notification, a test). */
  wake(): void;
  /** Stops claiming, waits for the sends in flight up to SHUTDOWN_GRACE_SECONDS. */
  stop(): Promise<void>;
}

/**
 * The dispatcher role. Up to CONCURRENCY rows are in flight at once, each on its own: a slow or
 * failing row holds no other up. Claims come in batches of BATCH_SIZE, the next one as soon as
 * the rows claimed before have all been started, when woken by a notification, by the cron
 * safety net, or by a slot falling free while the last claim found more work. Leases of rows
 * claimed are renewed until they finish.
 */
export function startDispatcher(deps: DispatcherDeps, { listenUrl }: { listenUrl?: string } = {}): RunningDispatcher {
  const { config, log } = deps;
  const { BATCH_SIZE, CONCURRENCY, LEASE_SECONDS, SHUTDOWN_GRACE_SECONDS } = config.dispatcher;
  const inFlight = new Map<string, Promise<void>>();
  // Claimed ahead and waiting for a free slot, so that one claim serves a batch of rows: the next
  // batch is claimed while the last rows of this one are still in flight.
  const ready: OutboxRow[] = [];
  const writes = groupWrites(deps);
  let stopping = false;
  let filling: Promise<void> | undefined;
  let wokenWhileFilling = false;
  // True once a claim came back short: slots falling free need not claim again until woken.
  let drained = false;

  const startReady = () => {
    while (!stopping && inFlight.size < CONCURRENCY && ready.length > 0) start(ready.shift()!);
  };

  const handBack = async (rows: OutboxRow[]) => {
    if (rows.length === 0) return;
    try {
      await release(deps.db, rows.map((r) => r.id), deps.workerId);
    } catch (err) {
      log.warn({ err: errorText(err), rows: rows.length }, 'could not hand rows back; their leases will');
    }
  };

  const claimWhileNeeded = async () => {
    try {
      do {
        wokenWhileFilling = false;
        while (!stopping && !drained && ready.length === 0) {
          const rows = await claimDue(deps.db, deps.workerId, BATCH_SIZE, LEASE_SECONDS);
          drained = rows.length < BATCH_SIZE;
          ready.push(...rows);
          startReady();
        }
      } while (wokenWhileFilling && !stopping);
    } catch (err) {
      log.warn({ err: errorText(err) }, 'could not claim rows; will try again');
    }
  };

  const fill = () => {
    startReady();
    if (stopping) return;
    if (filling) {
      wokenWhileFilling = true;
      return;
    }
    filling = claimWhileNeeded().finally(() => (filling = undefined));
  };

  const start = (row: OutboxRow) => {
    const done = processRow(deps, row, writes).then(() => {
      inFlight.delete(row.id);
      fill();
    });
    inFlight.set(row.id, done);
  };

  const wake = () => {
    drained = false;
    fill();
  };

  const renewal = setInterval(() => {
    const held = [...inFlight.keys(), ...ready.map((r) => r.id)];
    if (held.length === 0) return;
    renewLeases(deps.db, held, deps.workerId, LEASE_SECONDS).catch((err) => log.warn({ err: errorText(err) }, 'could not renew leases'));
  }, (LEASE_SECONDS * 1000) / 3);
  renewal.unref();

  const safetyNet = cron.schedule(config.dispatcher.CRON, wake, { name: 'outbox-safety-net' });
  const cleanup = cron.schedule(
    config.dispatcher.HOUSEKEEPING_CRON,
    async () => {
      try {
        const removed = await housekeeping(deps);
        if (Object.values(removed).some((n) => n > 0)) log.info(removed, 'housekeeping');
      } catch (err) {
        log.warn({ err: errorText(err) }, 'housekeeping failed');
      }
    },
    { name: 'outbox-housekeeping', noOverlap: true },
  );
  const listener: Listener | undefined =
    listenUrl && config.dispatcher.LISTEN ? listenForOutbox(listenUrl, wake, log) : undefined;
  log.info({ workerId: deps.workerId, cron: config.dispatcher.CRON, listen: Boolean(listener), concurrency: CONCURRENCY }, 'dispatcher started');
  // Whatever is due already (rows queued while no dispatcher ran).
  wake();

  return {
    wake,
    async stop() {
      stopping = true;
      await safetyNet.destroy();
      await cleanup.destroy();
      await listener?.close();
      // Rows claimed but not started go back at once, for another dispatcher to take.
      await filling;
      await handBack(ready.splice(0));
      const settled = Promise.all(inFlight.values()).then(() => true);
      const inTime = await Promise.race([settled, new Promise<false>((r) => setTimeout(() => r(false), SHUTDOWN_GRACE_SECONDS * 1000).unref())]);
      clearInterval(renewal);
      if (!inTime) log.warn({ rows: [...inFlight.keys()] }, 'shutdown grace over: rows still in flight are left to their leases');
      log.info('dispatcher stopped');
    },
  };
}
