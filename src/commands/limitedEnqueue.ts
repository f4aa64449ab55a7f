/**
 * A per-client limit and the enqueue it guards, in one statement: a batch of requests counts its
 * hits on the limit's rows and inserts the outbox rows of those still under the limit, in one
 * round trip and one commit. Counted and inserted together, so the count stays as exact across
 * instances as the limit's own (`auth/limits/batchedLimit.ts`), and a request refused by the
 * limit writes nothing else. It touches two tables; each one's SQL is borrowed from the module
 * that owns it.
 *
 * Deadlines work as in `EnqueueBatcher`: `DeadlineExceeded` while queued (not counted, not
 * inserted), `MaybeRecorded` once sent; a row the server finds past its deadline is counted but
 * not inserted.
 */
import { countHitsBindings, countHitsSql, secondsUntil, type BatchedLimit } from '../auth/limits/batchedLimit.ts';
import type { Db } from '../db/database.ts';
import { runPrepared } from '../db/preparedStatement.ts';
import { DeadlineExceeded, GroupCommit } from '../db/groupCommit.ts';
import { maybeRecorded } from '../outbox/enqueueBatcher.ts';
import {
  BEFORE_DEADLINE,
  INSERTED_COLUMNS,
  insertedIds,
  insertRowsSql,
  rowsDocument,
  rowsFromDocument,
  type InsertedRows,
  type NewOutboxRow,
} from '../outbox/queries.ts';

/** Enqueued, with the row's id; or refused by the limit, with when to try again. */
export type LimitedOutcome = { allowed: true; id: string } | { allowed: false; retryAfterSeconds: number };

interface Hit {
  key: string;
  row: NewOutboxRow;
}

interface Counted {
  nth: number;
  expire: number;
  id: string | null;
}

async function countAndInsert(db: Db, limit: BatchedLimit, hits: readonly Hit[]): Promise<Counted[]> {
  const [result] = await runPrepared<InsertedRows & { nths: number[]; expires: number[] }>(
    db,
    'outbox_enqueue_within_limit',
    `
    WITH asked AS (
      SELECT * FROM ${rowsFromDocument(['key'])}
    ), counted AS (${countHitsSql('asked')}
    ), ranked AS (
      -- A key's count after the batch, less its hits in the batch, plus this hit's place among them.
      SELECT asked.*, c.expire,
             c.points - count(*) OVER (PARTITION BY asked.key)
               + row_number() OVER (PARTITION BY asked.key ORDER BY asked.n) AS nth
      FROM asked JOIN counted c USING (key)
    ), live AS (
      SELECT * FROM ranked WHERE nth <= ?::int AND (${BEFORE_DEADLINE})
    ), ${insertRowsSql('live')}
    SELECT (SELECT json_agg(nth ORDER BY n) FROM ranked) AS nths,
           (SELECT json_agg(expire ORDER BY n) FROM ranked) AS expires,
           ${INSERTED_COLUMNS}
    `,
    [
      rowsDocument(
        hits.map((h) => h.row),
        (i) => ({ key: hits[i]!.key }),
      ),
      ...countHitsBindings(limit.durationSeconds * 1000),
      limit.points,
    ],
  );
  const ids = insertedIds(hits.length, result);
  return hits.map((_, i) => ({ nth: result!.nths[i]!, expire: result!.expires[i]!, id: ids[i]! }));
}

export class LimitedEnqueue {
  readonly #limit: BatchedLimit;
  readonly #hits: GroupCommit<Hit, Counted>;

  // One statement at a time, as the enqueue batcher and the limit each keep: requests arriving
  // meanwhile make the next batch larger.
  constructor(db: Db, limit: BatchedLimit, { maxBatch = 256, maxQueued = 4096 } = {}) {
    this.#limit = limit;
    this.#hits = new GroupCommit((hits) => countAndInsert(db, limit, hits), {
      maxBatch,
      maxInFlight: 1,
      maxQueued,
      bisect: true,
    });
  }

  /** Counts a hit for `client` and, under the limit, queues `row`; resolves once both are committed. */
  enqueue(client: string, row: NewOutboxRow): Promise<LimitedOutcome> {
    // Answered by the instance's two handlers rather than from an async function, whose suspended
    // frame every request waiting on the batch would keep. A throw still comes back as a rejection.
    let added: Promise<Counted>;
    try {
      added = this.#hits.add({ key: this.#limit.rowKey(client), row }, { deadline: row.deadline?.getTime() });
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as it was thrown
      return Promise.reject(err);
    }
    return added.then(this.#outcome, maybeRecorded);
  }

  readonly #outcome = (counted: Counted): LimitedOutcome => {
    if (counted.nth > this.#limit.points) return { allowed: false, retryAfterSeconds: secondsUntil(counted.expire) };
    // Under the limit, and found past its deadline by the server: counted, not inserted.
    if (counted.id === null) throw new DeadlineExceeded();
    return { allowed: true, id: counted.id };
  };
}
