/**
 * Group commit for enqueueing (see `GroupCommit`): a burst of requests costs one INSERT and one
 * commit per batch, and each caller resolves only once its own row is committed.
 * A row the database refuses (say, a \u0000 that jsonb will not take) fails alone: the batch is
 * split in halves until it does.
 *
 * A row may carry a deadline, and its caller learns at the deadline which of two things happened:
 * - `DeadlineExceeded`: the row was still queued. It is dropped and never written: not recorded.
 * - `MaybeRecorded`: the row was in an INSERT already sent. The INSERT skips rows whose deadline
 *   has passed on the server's clock (a stalled server that wakes up runs the INSERT it had been
 *   sent, and finds the row late), but an INSERT that ran in time and whose COMMIT is slow to
 *   answer (a synchronous standby that does not reply, a disk that stalls the WAL flush) commits
 *   its rows when the COMMIT completes, after the caller was answered. Nothing here can tell; the
 *   caller is told that the row may exist.
 */
import type { Db } from '../db/database.ts';
import { DeadlineExceeded, GroupCommit } from '../db/groupCommit.ts';
import { enqueueMany, type NewOutboxRow } from './queries.ts';

/** The row's INSERT was sent, and its outcome was not known by the row's deadline: it may be committed. */
export class MaybeRecorded extends Error {
  constructor() {
    super('outcome unknown at the deadline: the row may be committed');
    this.name = 'MaybeRecorded';
  }
}

export class EnqueueBatcher {
  readonly #rows: GroupCommit<NewOutboxRow, string | null>;

  // One INSERT at a time: requests that arrive meanwhile make the next one larger, and a larger
  // batch costs less per row on both sides (docs/performance.md). The price: a slow INSERT (a
  // lock, a batch being split after a bad row) holds every request behind it, up to their deadline.
  constructor(db: Db, { maxBatch = 256, maxInFlight = 1, maxQueued = 4096 } = {}) {
    this.#rows = new GroupCommit((rows) => enqueueMany(db, rows), { maxBatch, maxInFlight, maxQueued, bisect: true });
  }

  /**
   * Queues `row` for the next INSERT; resolves to its id once it is committed. Past the row's
   * deadline: `DeadlineExceeded` (not recorded) or `MaybeRecorded` (see above).
   */
  enqueue(row: NewOutboxRow): Promise<string> {
    // Answered by shared handlers, not an async function's frame kept per waiting request; a
    // throw still comes back as a rejection, as from an async function.
    let added: Promise<string | null>;
    try {
      added = this.#rows.add(row, { deadline: row.deadline?.getTime() });
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as it was thrown
      return Promise.reject(err);
    }
    return added.then(insertedId, maybeRecorded);
  }
}

function insertedId(id: string | null): string {
  // The server found the row past its deadline and did not insert it.
  if (id === null) throw new DeadlineExceeded();
  return id;
}

/**
 * A group commit's failure as an enqueue's caller is told it: a deadline that passed once the
 * statement was sent becomes `MaybeRecorded`; anything else is rethrown as it is.
 */
export function maybeRecorded(err: unknown): never {
  if (err instanceof DeadlineExceeded && err.sent) throw new MaybeRecorded();
  throw err;
}
