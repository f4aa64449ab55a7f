/**
 * The dispatcher. Up to CONCURRENCY rows are in flight at once, each on its own: a slow or
 * failing row holds no other up. Claims come in batches of BATCH_SIZE, the next one as soon as
 * the rows claimed before have all been started, while the last claim says more may be due.
 * Leases of rows held are renewed until they finish.
 *
 * Continuous (the service): after a claim that took everything due, the next comes when woken by
 * a notification (LISTEN/NOTIFY), by the cron safety net, or when the next row comes due (a
 * retry's backoff: asked of the database after such a claim, and after a failure); while rows
 * stream in, no sooner than BUSY_CLAIM_GAP_MS after the last claim began. node-cron only
 * triggers claims.
 *
 * Once (`continuous: false`, graphile-worker's `runOnce`): the same claims and slots, for
 * `dundie dispatch --once`, the shell and the tests. It stops by itself once a claim has taken
 * everything due and the rows it holds have finished; `done` then tells how they ended.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import process from 'node:process';
import cron, { type ScheduledTask } from 'node-cron';
import type { ListenTarget } from '../db/database.ts';
import { listenForOutbox, type Listener } from './listener.ts';
import { nextDueWakeUp, type NextDueWakeUp } from './nextDue.ts';
import { processRow, rowWriters, type DispatcherDeps, type RowWriters } from './processRow.ts';
import { claimDue, isSuspect, release, renewLeases, type Claim, type KnownKind, type OutboxRow } from './queries.ts';
import { claimable } from './taskList.ts';

export const newWorkerId = () => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * While rows stream in, every INSERT's notification would start a claim of the few rows it
 * committed, and those rows would share their throttle slot and finish statements with no
 * others. After a claim that took `BUSY_CLAIM_ROWS` or more and was not full (a backlog gains
 * nothing from waiting), the next one starts no sooner than the setting `BUSY_CLAIM_GAP_MS` after
 * it began, so that the rows of several INSERTs share one claim and the statements after it. A
 * claim of fewer rows sets no gap: a lone e-mail is claimed as soon as it is notified.
 */
export const BUSY_CLAIM_ROWS = 8;

/**
 * What the dispatcher is doing (graphile-worker's local queue modes). Changed only by `#setMode`,
 * along `TRANSITIONS`.
 * - `waiting`: more may be due: claims as soon as no claimed row waits for a slot and the busy
 *   gap (`BUSY_CLAIM_ROWS`) has passed. A dispatcher starts here, since rows may have been queued
 *   while none ran.
 * - `claiming`: a claim is under way; a wake meanwhile is counted, and its answer is not taken
 *   for "everything due was taken" (its row may have committed after the claim's snapshot).
 * - `drained`: the last claim took everything due; the next comes when woken. A once dispatcher
 *   stops here when its rows have finished.
 * - `stopping`: no more claims or starts; rows not started go back, rows in flight finish within
 *   SHUTDOWN_GRACE_SECONDS.
 * - `stopped`: nothing in flight; timers and the LISTEN connection closed.
 */
export type Mode = 'waiting' | 'claiming' | 'drained' | 'stopping' | 'stopped';

const TRANSITIONS: Record<Mode, readonly Mode[]> = {
  waiting: ['claiming', 'stopping'],
  claiming: ['waiting', 'drained', 'stopping'],
  drained: ['waiting', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** How the rows a dispatcher claimed ended. */
export interface DispatchResult {
  claimed: number;
  sent: number;
  skipped: number;
  failed: number;
  /** Handed back unstarted: claimed ahead when a stop came, or called off before the work began. */
  released: number;
  /** Claimed alone because its lease lapsed after it had started (`isSuspect`). */
  suspects: number;
}

interface ContinuousOptions {
  continuous?: true;
  /** Where to LISTEN for new rows (with `LISTEN` on); without it, the cron tick alone claims. */
  listen?: ListenTarget;
}

interface OnceOptions {
  continuous: false;
  /** Only these rows: the shell's and `send-reset`'s one row. */
  ids?: readonly string[];
}

export type DispatcherOptions = (ContinuousOptions | OnceOptions) & {
  /** Called once stopped, for what the tasks hold open (the mailer's connections). */
  close?: () => unknown;
};

export class Dispatcher {
  #mode: Mode = 'waiting';
  readonly #continuous: boolean;
  /** Counts wake-ups, so that a claim can tell whether one came while it was under way. */
  #wakes = 0;
  #claiming: Promise<void> | undefined;
  /** No claim before this (`performance.now()`) while busy: see `BUSY_CLAIM_ROWS`. */
  #nextClaimAt = 0;
  #claimTimer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Claimed ahead and waiting for a free slot, so that one claim serves a batch of rows. */
  readonly #ready: OutboxRow[] = [];
  /** A suspect (`isSuspect`) is in flight: it runs alone, so that a crash pins it and no other row. */
  #suspectInFlight = false;
  readonly #tally: DispatchResult = { claimed: 0, sent: 0, skipped: 0, failed: 0, released: 0, suspects: 0 };
  readonly #writers: RowWriters;
  readonly #renewal: NodeJS.Timeout;
  readonly #safetyNet: ScheduledTask | undefined;
  readonly #listener: Listener | undefined;
  /** The kinds and payload versions this dispatcher's tasks read: all it claims. */
  readonly #known: KnownKind[];
  readonly #ids: readonly string[] | undefined;
  readonly #close: (() => unknown) | undefined;
  readonly #nextDue: NextDueWakeUp | undefined;
  /** Aborted by `stop()`: rows whose work has not begun (waiting for an SMTP connection) come back. */
  readonly #stopping = new AbortController();
  #stopped: Promise<void> | undefined;
  /** A once dispatcher's failed claim: `done` rejects with it. */
  #failure: unknown;
  readonly #done = deferred<DispatchResult>();

  /** Starts at once: whatever is due already (rows queued while no dispatcher ran) is claimed. */
  constructor(
    private readonly deps: DispatcherDeps,
    options: DispatcherOptions = {},
  ) {
    const { settings, log } = deps;
    this.#continuous = options.continuous !== false;
    this.#ids = options.continuous === false ? options.ids : undefined;
    this.#close = options.close;
    this.#writers = rowWriters(deps);
    this.#known = claimable(deps.tasks);
    this.#renewal = setInterval(() => this.#renewLeases(), (settings.LEASE_SECONDS * 1000) / 3);
    this.#renewal.unref();
    // Every row waiting for an SMTP connection listens for the stop: up to CONCURRENCY of them, not a leak.
    setMaxListeners(0, this.#stopping.signal);
    // Rejects for a once dispatcher only, whose caller reads it; this keeps a caller that just stops it quiet.
    this.#done.promise.catch(() => {});
    if (options.continuous !== false) {
      this.#nextDue = nextDueWakeUp({ db: deps.db, known: this.#known, log }, () => this.wake());
      this.#safetyNet = cron.schedule(settings.CRON, () => this.wake(), { name: 'outbox-safety-net' });
      const { listen } = options;
      this.#listener = listen && settings.LISTEN ? listenForOutbox(listen, () => this.wake(), log) : undefined;
      log.info(
        {
          workerId: deps.workerId,
          cron: settings.CRON,
          listen: Boolean(this.#listener),
          concurrency: settings.CONCURRENCY,
          // During a rolling deploy, says which rows this process leaves for another.
          reads: this.#known.map((k) => `${k.kind} v${k.payloadVersion}`),
        },
        'dispatcher started',
      );
    }
    this.#fill();
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** Settles once stopped: how the claimed rows ended, or a once dispatcher's failed claim. */
  get done(): Promise<DispatchResult> {
    return this.#done.promise;
  }

  /** Claims now instead of at the next tick (a notification, a test). */
  wake(): void {
    this.#wakes += 1;
    if (this.#mode === 'drained') this.#setMode('waiting');
    this.#fill();
  }

  /** Stops claiming, hands back rows not started, waits for the rows in flight up to SHUTDOWN_GRACE_SECONDS. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#setMode('stopping');
    clearTimeout(this.#claimTimer);
    const { log, settings } = this.deps;
    await this.#safetyNet?.destroy();
    this.#nextDue?.cancel();
    await this.#listener?.close();
    await this.#claiming;
    await this.#handBack(this.#ready.splice(0));
    this.#stopping.abort();
    const settled = Promise.all(this.#inFlight.values()).then(() => true);
    const grace = new Promise<false>((r) => setTimeout(() => r(false), settings.SHUTDOWN_GRACE_SECONDS * 1000).unref());
    const inTime = await Promise.race([settled, grace]);
    clearInterval(this.#renewal);
    if (!inTime)
      log.warn(
        { rows: [...this.#inFlight.keys()] },
        'shutdown grace over: rows still in flight are left to their leases',
      );
    this.#setMode('stopped');
    if (this.#continuous) log.info('dispatcher stopped');
    try {
      await this.#close?.();
    } finally {
      if (this.#failure === undefined) this.#done.resolve({ ...this.#tally });
      else this.#done.reject(this.#failure);
    }
  }

  #setMode(next: Mode): void {
    assert.ok(TRANSITIONS[this.#mode].includes(next), `dispatcher: no way from ${this.#mode} to ${next}`);
    this.#mode = next;
  }

  /** Claims, starts or ends, whichever the mode and the rows held call for; after every change. */
  #fill(): void {
    this.#startReady();
    if (this.#ready.length > 0) return;
    if (this.#mode === 'waiting') this.#claimWhenDue();
    else if (this.#mode === 'drained' && !this.#continuous && this.#inFlight.size === 0) void this.stop();
  }

  #startReady(): void {
    const { CONCURRENCY } = this.deps.settings;
    const starting = this.#mode === 'waiting' || this.#mode === 'claiming' || this.#mode === 'drained';
    while (starting && this.#inFlight.size < CONCURRENCY && this.#ready.length > 0 && this.#mayStart(this.#ready[0]!)) {
      this.#start(this.#ready.shift()!);
    }
  }

  /** A suspect waits for the rows in flight to finish, and nothing starts beside it. */
  #mayStart(row: OutboxRow): boolean {
    return !this.#suspectInFlight && (!isSuspect(row) || this.#inFlight.size === 0);
  }

  #start(row: OutboxRow): void {
    if (isSuspect(row)) this.#suspectInFlight = true;
    const done = processRow(this.deps, row, this.#writers, this.#stopping.signal).then((outcome) => {
      if (isSuspect(row)) this.#suspectInFlight = false;
      this.#inFlight.delete(row.id);
      this.#tally[outcome] += 1;
      // Its retry is due at a time of the backoff's choosing: wake for it then, not at a tick.
      if (outcome === 'failed') this.#nextDue?.schedule();
      this.#fill();
    });
    this.#inFlight.set(row.id, done);
  }

  /** Claims now, or once the busy gap has passed (one timer, however many wakes come meanwhile). */
  #claimWhenDue(): void {
    const wait = this.#nextClaimAt - performance.now();
    if (wait <= 0) return this.#claim();
    this.#claimTimer ??= setTimeout(() => {
      this.#claimTimer = undefined;
      this.#fill();
    }, wait);
  }

  #claim(): void {
    // A wait still pending ends with this claim: its timer would find nothing to start.
    clearTimeout(this.#claimTimer);
    this.#claimTimer = undefined;
    this.#setMode('claiming');
    const { db, workerId, settings } = this.deps;
    const wakesBefore = this.#wakes;
    const startedAt = performance.now();
    this.#claiming = claimDue(db, workerId, settings.BATCH_SIZE, settings.LEASE_SECONDS, {
      ids: this.#ids,
      known: this.#known,
      // The rest wait in #ready, and are marked started when they start.
      startAtOnce: this.#suspectInFlight ? 0 : settings.CONCURRENCY - this.#inFlight.size,
    }).then(
      (rows) => {
        if (this.#continuous && !rows.full && rows.length >= BUSY_CLAIM_ROWS)
          this.#nextClaimAt = startedAt + settings.BUSY_CLAIM_GAP_MS;
        this.#claimed(rows, wakesBefore);
      },
      (err: unknown) => this.#claimFailed(err),
    );
  }

  #claimed(rows: Claim, wakesBefore: number): void {
    this.#tally.claimed += rows.length;
    this.#tally.suspects += rows.filter(isSuspect).length;
    this.#ready.push(...rows);
    // Stopping: `stop()` hands them back.
    if (this.#mode !== 'claiming') return;
    // A suspect comes alone: a short claim then says nothing about what is left. Nor does a
    // claim during which a notification came: its row may have committed after the claim's snapshot.
    if (!rows.full && !rows.some(isSuspect) && this.#wakes === wakesBefore) {
      this.#setMode('drained');
      this.#nextDue?.schedule();
    } else this.#setMode('waiting');
    this.#fill();
  }

  #claimFailed(err: unknown): void {
    if (this.#mode !== 'claiming') return;
    if (!this.#continuous) {
      // Nobody will wake a once dispatcher: its caller hears of the failure instead.
      this.#failure = err;
      void this.stop();
      return;
    }
    // Claimed again when woken or when a slot falls free, not at once: the database may be away.
    this.deps.log.warn({ err: errorText(err) }, 'could not claim rows; will try again');
    this.#setMode('waiting');
  }

  #renewLeases(): void {
    const held = [...this.#inFlight.keys(), ...this.#ready.map((r) => r.id)];
    if (held.length === 0) return;
    const { db, workerId, settings, log } = this.deps;
    renewLeases(db, held, workerId, settings.LEASE_SECONDS).catch((err) =>
      log.warn({ err: errorText(err) }, 'could not renew leases'),
    );
  }

  async #handBack(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { db, workerId, log } = this.deps;
    try {
      this.#tally.released += await release(
        db,
        rows.map((r) => r.id),
        workerId,
      );
    } catch (err) {
      log.warn({ err: errorText(err), rows: rows.length }, 'could not hand rows back; their leases will');
    }
  }
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
