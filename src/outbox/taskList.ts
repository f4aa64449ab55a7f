/**
 * The task list: what the outbox runs for each kind of row (graphile-worker's task list). The
 * outbox claims, leases, retries and finishes rows; a task does the work of one row and says how
 * it ended. Kinds are registered by whoever starts the dispatcher, so the outbox knows none.
 */
import type { z } from 'zod';
import type { EndWrite, Finish, KnownKind, OutboxRow } from './queries.ts';

/**
 * A write of a task's own, made by the statement that records its row's end (`EndWrite`, in
 * `queries.ts`), and only if that end is recorded (the dispatcher still held the row): a record of
 * what was done can then neither be lost nor be written for an end that never was. The rows
 * finished together share that statement, and each `WriteMany` in it is one statement of all
 * their items; `item` says what of a value goes into the JSON its `sql` reads. The outbox makes
 * it without knowing what it is.
 */
export interface WriteMany<T> extends EndWrite {
  item(value: T): Record<string, unknown>;
}

export type Alongside = NonNullable<Finish['alongside']>;

/** `value`, to be written by `write` with its row's end. */
export const alongside = <T>(write: WriteMany<T>, value: T): Alongside => ({ write, item: write.item(value) });

/** Sent, or finished without sending for a reason kept in `last_error` (`skipped`). */
export type TaskOutcome = ({ sent: true } | { sent: false; skipped: string }) & { alongside?: Alongside };

/**
 * Thrown by a task when trying again cannot help (a 5xx refusal of the recipient, an address the
 * mailer will not take): the row goes `dead` at once with this message in `last_error`.
 */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/**
 * Thrown by a task whose failure came with a time to try again (an HTTP `Retry-After`): the row is
 * retried no sooner than that, or after its backoff if that is later.
 */
export class RetryLater extends Error {
  readonly retryInSeconds: number;
  constructor(message: string, retryInSeconds: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryLater';
    this.retryInSeconds = retryInSeconds;
  }
}

/**
 * Thrown by a task that was called off before its work began (the dispatcher is stopping): the
 * row is handed back at once, its try not counted, for another dispatcher.
 */
export class HandBack extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HandBack';
  }
}

/** What a task's run is given besides its row. */
export interface RunOptions {
  /** Aborted when the dispatcher stops: work not yet begun should throw `HandBack`. */
  signal?: AbortSignal;
}

/** A payload its version's schema cannot read (a field missing or of the wrong type): no retry can help. */
export class UnreadablePayload extends PermanentFailure {
  constructor(problem: string) {
    super(`unreadable payload: ${problem}`);
    this.name = 'UnreadablePayload';
  }
}

/** What a task is given of its row. */
export type TaskRow = Pick<OutboxRow, 'id' | 'kind' | 'payload' | 'payload_version'>;

/**
 * A kind's task: the payload versions it reads, and the work for one row. Throws to have the row
 * retried with backoff (until GIVE_UP_AFTER), or a `PermanentFailure` to have it given up at once.
 */
export interface Task {
  /** The claim takes only rows of these versions; a row of any other waits for a release that reads it. */
  readonly payloadVersions: readonly number[];
  run(row: TaskRow, options?: RunOptions): Promise<TaskOutcome>;
}

export type TaskList = Readonly<Record<string, Task>>;

/**
 * A task from a schema per payload version it reads, each reading into the one shape `work`
 * takes (an older version's schema transforms it into the current shape). A payload its version's
 * schema refuses is `UnreadablePayload`, naming the first field that is wrong.
 */
export function defineTask<P>(
  payloads: Readonly<Record<number, z.ZodType<P>>>,
  work: (payload: P, row: TaskRow, options: RunOptions) => Promise<TaskOutcome>,
): Task {
  return {
    payloadVersions: Object.keys(payloads).map(Number),
    async run(row, options = {}) {
      const schema = payloads[row.payload_version];
      // Not claimed (see `claimable`); reachable only by handing a row to the task directly.
      if (!schema) throw new Error(`no schema for ${row.kind} payload version ${row.payload_version}`);
      const parsed = schema.safeParse(row.payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new UnreadablePayload(`${issue.path.join('.') || 'payload'}: ${issue.message}`);
      }
      return work(parsed.data, row, options);
    },
  };
}

/** Every kind and payload version a dispatcher with these tasks reads: what `claimDue` may take. */
export const claimable = (tasks: TaskList): KnownKind[] =>
  Object.entries(tasks).flatMap(([kind, task]) =>
    task.payloadVersions.map((payloadVersion) => ({ kind, payloadVersion })),
  );

export const SENT: TaskOutcome = { sent: true };
export const sent = (alongside?: Alongside): TaskOutcome => (alongside ? { sent: true, alongside } : SENT);
export const skipped = (reason: string, alongside?: Alongside): TaskOutcome =>
  alongside ? { sent: false, skipped: reason, alongside } : { sent: false, skipped: reason };
