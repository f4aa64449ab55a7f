/**
 * Group commit: items that arrive while earlier writes are on their way share the next one, so a
 * burst costs one round trip and one commit per batch rather than per item. Each caller still
 * resolves only once its own item is written. Nothing waits on a timer: with fewer than
 * `maxInFlight` writes under way, an item is written at once.
 *
 * The queue is bounded (`maxQueued`: beyond it `add` fails at once with `QueueFull`), and an item
 * may carry a deadline: past it the caller is answered with `DeadlineExceeded`, and an item still
 * queued is dropped unwritten. A write already under way is not undone: a writer that must not
 * commit late items checks their deadline itself (the outbox INSERT does, on the server's clock),
 * and even then a write whose statement ran in time may still commit after the caller was
 * answered (a COMMIT waiting for a synchronous standby), so `DeadlineExceeded.sent` says which
 * of the two the caller was: dropped unwritten, or in a write already sent.
 */
import { isDataDbError } from './errors.ts';

/**
 * The item was not written before its deadline; the caller may try again. `sent` false: it was
 * still queued and is never written. `sent` true: it was in a write already sent to the server,
 * whose outcome the caller will not learn; that write may commit (or have committed) anyway.
 */
export class DeadlineExceeded extends Error {
  readonly sent: boolean;
  constructor({ sent = false }: { sent?: boolean } = {}) {
    super(sent ? 'in a write already sent when its deadline passed: it may commit' : 'not written before its deadline');
    this.name = 'DeadlineExceeded';
    this.sent = sent;
  }
}

/** Too many items already queued: refused at once rather than queued behind a stalled database. */
export class QueueFull extends Error {
  constructor(message = 'too many writes queued') {
    super(message);
    this.name = 'QueueFull';
  }
}

export interface GroupCommitOptions {
  maxBatch?: number;
  maxInFlight?: number;
  /** Items waiting for a write beyond those in flight; more are refused with `QueueFull`. */
  maxQueued?: number;
  /**
   * A batch that fails for its data (SQLSTATE class 21, two items touching one row; 22, invalid
   * data; 23, a broken constraint; 54, past a limit) is split in halves, written in order, until
   * only the items at fault fail: one bad item in 256 costs about 2·log2(256) = 16 writes, not
   * 256. A function says which errors to split on instead (`isRowBoundDbError` adds the waits one
   * locked row can cause).
   */
  bisect?: boolean | ((err: unknown) => boolean);
}

interface Waiting<In, Out> {
  item: In;
  resolve(out: Out): void;
  reject(err: unknown): void;
  /** When the caller is answered `DeadlineExceeded`, on the monotonic clock (`performance.now()`). */
  due: number | undefined;
  /** Taken off the queue into a write: past its deadline, it may still commit. */
  sent: boolean;
  /** With a deadline: answered already, by its write or by the deadline, whichever came first. */
  answered: boolean;
}

export class GroupCommit<In, Out> {
  readonly #writeMany: (items: In[]) => Promise<Out[]>;
  readonly #bisect: ((err: unknown) => boolean) | undefined;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  #queue: Waiting<In, Out>[] = [];
  /**
   * The batches being written, for the deadline sweep. Callers are found through these and the
   * queue, never kept in a Set of their own: what passes through a long-lived Set is promoted to
   * the old generation with all it holds, here a caller's request (docs/performance.md, "Garbage
   * that outlived its request").
   */
  readonly #writing: Waiting<In, Out>[][] = [];
  /** Callers with a deadline not yet answered, queued or being written. */
  #timed = 0;
  // One timer for all deadlines, set for the earliest: a timer per item cost more than the write.
  #sweep: NodeJS.Timeout | undefined;
  #sweepAt = Infinity;

  /** `writeMany` writes its items in one statement and returns one result per item, in order. */
  constructor(
    writeMany: (items: In[]) => Promise<Out[]>,
    { maxBatch = 256, maxInFlight = 2, maxQueued = Infinity, bisect = false }: GroupCommitOptions = {},
  ) {
    this.#writeMany = writeMany;
    this.#bisect = bisect === true ? isDataDbError : bisect || undefined;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
    this.#maxQueued = maxQueued;
  }

  /** Items waiting for a write (not those being written). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues `item` for the next write; resolves to its result once that write is committed.
   * With a `deadline` (epoch ms), rejects with `DeadlineExceeded` once it passes.
   */
  add(item: In, { deadline }: { deadline?: number } = {}): Promise<Out> {
    return new Promise((resolve, reject) => {
      if (this.#queue.length >= this.#maxQueued) return reject(new QueueFull());
      // Turned into monotonic time once: a wall clock stepped back cannot postpone it. A deadline
      // that is no number (an invalid Date's) counts as passed.
      const due =
        deadline === undefined ? undefined : performance.now() + (Number.isNaN(deadline) ? 0 : deadline - Date.now());
      // Answered through `#resolve` and `#reject`, not through closures of its own: with a closure
      // per caller, six times as many bytes were promoted (docs/performance.md).
      const waiting: Waiting<In, Out> = { item, resolve, reject, due, sent: false, answered: false };
      if (due !== undefined) {
        this.#timed++;
        this.#armSweep(due);
      }
      this.#queue.push(waiting);
      this.#pump();
    });
  }

  #resolve(waiting: Waiting<In, Out>, out: Out): void {
    if (this.#answer(waiting)) waiting.resolve(out);
  }

  #reject(waiting: Waiting<In, Out>, err: unknown): void {
    if (this.#answer(waiting)) waiting.reject(err);
  }

  /** Records that the caller is answered now; false when it was already (its deadline passed first). */
  #answer(waiting: Waiting<In, Out>): boolean {
    if (waiting.due === undefined) return true;
    if (waiting.answered) return false;
    waiting.answered = true;
    if (--this.#timed === 0) {
      clearTimeout(this.#sweep);
      this.#sweepAt = Infinity;
    }
    return true;
  }

  #armSweep(at: number): void {
    if (at >= this.#sweepAt) return;
    clearTimeout(this.#sweep);
    this.#sweepAt = at;
    this.#sweep = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()));
  }

  /** Answers every caller whose deadline has passed; items still queued are dropped unwritten. */
  #expire(): void {
    this.#sweep = undefined;
    this.#sweepAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const expired: Waiting<In, Out>[] = [];
    for (const waiting of [this.#queue, ...this.#writing].flat()) {
      if (waiting.due === undefined || waiting.answered) continue;
      if (waiting.due <= now) expired.push(waiting);
      else next = Math.min(next, waiting.due);
    }
    if (expired.length > 0) {
      for (const waiting of expired) this.#reject(waiting, new DeadlineExceeded({ sent: waiting.sent }));
      // Only a deadline answers a caller still queued.
      this.#queue = this.#queue.filter((w) => !w.answered);
    }
    if (next < Infinity) this.#armSweep(next);
  }

  #pump(): void {
    while (this.#writing.length < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      for (const w of batch) w.sent = true;
      this.#writing.push(batch);
      void this.#write(batch)
        // `#write` answers its callers, unless it throws itself (a `bisect` that throws): then
        // this does, or they would wait for ever once the batch leaves `#writing`.
        .catch((err: unknown) => batch.forEach((w) => this.#reject(w, err)))
        .finally(() => {
          this.#writing.splice(this.#writing.indexOf(batch), 1);
          this.#pump();
        });
    }
  }

  async #write(batch: Waiting<In, Out>[]): Promise<void> {
    try {
      const results = await this.#writeMany(batch.map((w) => w.item));
      batch.forEach((w, i) => this.#resolve(w, results[i]!));
    } catch (err) {
      if (!this.#bisect || batch.length === 1 || !this.#bisect(err)) {
        for (const w of batch) this.#reject(w, err);
        return;
      }
      // Callers already told DeadlineExceeded are not written again by the halves, nor those told
      // so while the first half was being written.
      const open = batch.filter((w) => !w.answered);
      const half = Math.ceil(open.length / 2);
      if (half > 0) await this.#write(open.slice(0, half));
      const rest = open.slice(half).filter((w) => !w.answered);
      if (rest.length > 0) await this.#write(rest);
    }
  }
}
