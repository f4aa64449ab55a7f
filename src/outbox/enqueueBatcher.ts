/**
 * Group commit for enqueueing (see `GroupCommit`): a burst of requests costs one INSERT and one
 * commit per batch, and each caller resolves only once its own row is committed.
 * A row the database refuses (say, a \u0000 that jsonb will not take) fails alone.
 */
import type { Db } from '../db/database.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import { enqueue, enqueueMany, type NewOutboxRow } from './queries.ts';

export class EnqueueBatcher {
  readonly #rows: GroupCommit<NewOutboxRow, string>;

  constructor(db: Db, { maxBatch = 256, maxInFlight = 2 } = {}) {
    this.#rows = new GroupCommit((rows) => enqueueMany(db, rows), {
      maxBatch,
      maxInFlight,
      writeOne: (row) => enqueue(db, row),
    });
  }

  /** Queues `row` for the next INSERT; resolves to its id once it is committed. */
  enqueue(row: NewOutboxRow): Promise<string> {
    return this.#rows.add(row);
  }
}
