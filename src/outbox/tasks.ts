/**
 * The task list: what the outbox runs for each kind of row (graphile-worker's task list). The
 * outbox claims, leases, retries and finishes rows; a task does the work of one row and says how
 * it ended. Kinds are registered by whoever starts the dispatcher, so the outbox knows none.
 */
import type { KnownKind, OutboxRow } from './queries.ts';

/** Sent, or finished without sending for a reason kept in `last_error` (`skipped`). */
export type TaskOutcome = { sent: true } | { sent: false; skipped: string };

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
 * Does the work of one claimed row; throws to have the row retried with backoff (until
 * GIVE_UP_AFTER), or throws a `PermanentFailure` to have it given up at once.
 */
export type Task = (row: Pick<OutboxRow, 'id' | 'kind' | 'payload'>) => Promise<TaskOutcome>;

/** A kind's task and the newest payload version it reads (it reads every older one too). */
export interface TaskDefinition {
  readonly payloadVersion: number;
  readonly run: Task;
}

export type TaskList = Readonly<Record<string, TaskDefinition>>;

/** What a dispatcher with these tasks can claim: during a rolling deploy the rest waits for another. */
export const claimable = (tasks: TaskList): KnownKind[] =>
  Object.entries(tasks).map(([kind, { payloadVersion }]) => ({ kind, payloadVersion }));

/** A payload its task cannot read at all (a field missing or of the wrong type): dead at once, saying so. */
export class UnreadablePayload extends PermanentFailure {
  constructor(problem: string) {
    super(`unreadable payload: ${problem}`);
    this.name = 'UnreadablePayload';
  }
}

export const SENT: TaskOutcome = { sent: true };
export const skipped = (reason: string): TaskOutcome => ({ sent: false, skipped: reason });
