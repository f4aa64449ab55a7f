/**
 * Group commit for the API's reset requests: rows that arrive while earlier INSERTs are on their
 * way share the next one, so a burst costs one round trip and one commit per batch rather than
 * per request. Each request still answers only once its own row is committed. Nothing waits on a
 * timer: with fewer than `maxInFlight` INSERTs under way, a row is written at once.
 */
import type { Db } from '../db.ts';
import { enqueue, enqueueMany, type NewOutboxRow } from './queries.ts';

interface Waiting extends NewOutboxRow {
  resolve(id: string): void;
  reject(err: unknown): void;
}

// Invalid data (class 22) or a broken constraint (23) belongs to one row, not to its batch.
const rowsOwnFault = (err: unknown) => /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));

export class EnqueueBatcher {
  readonly #db: Db;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Waiting[] = [];
  #inFlight = 0;

  constructor(db: Db, { maxBatch = 256, maxInFlight = 2 } = {}) {
    this.#db = db;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  /** Queues `row` for the next INSERT; resolves to its id once it is committed. */
  enqueue(row: NewOutboxRow): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...row, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#write(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #write(batch: Waiting[]): Promise<void> {
    try {
      const ids = await enqueueMany(this.#db, batch);
      batch.forEach((w, i) => w.resolve(ids[i]!));
    } catch (err) {
      if (batch.length === 1 || !rowsOwnFault(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // One bad row failed the statement: write the rows one by one so only that one fails.
      await Promise.all(batch.map((w) => enqueue(this.#db, w.kind, w.payload, w.maxAttempts).then(w.resolve, w.reject)));
    }
  }
}
