/**
 * Group commit: items that arrive while earlier writes are on their way share the next one, so a
 * burst costs one round trip and one commit per batch rather than per item. Each caller still
 * resolves only once its own item is written. Nothing waits on a timer: with fewer than
 * `maxInFlight` writes under way, an item is written at once.
 */
import { isDataDbError } from './errors.ts';

export interface GroupCommitOptions<In, Out> {
  maxBatch?: number;
  maxInFlight?: number;
  /**
   * Writes one item by itself. Given, a batch that fails for its data (SQLSTATE class 21, two
   * items touching one row; 22, invalid data; 23, a broken constraint) is written item by item,
   * in order, so only an item at fault fails.
   */
  writeOne?: (item: In) => Promise<Out>;
}

interface Waiting<In, Out> {
  item: In;
  resolve(out: Out): void;
  reject(err: unknown): void;
}

export class GroupCommit<In, Out> {
  readonly #writeMany: (items: In[]) => Promise<Out[]>;
  readonly #writeOne: ((item: In) => Promise<Out>) | undefined;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Waiting<In, Out>[] = [];
  #inFlight = 0;

  /** `writeMany` writes its items in one statement and returns one result per item, in order. */
  constructor(writeMany: (items: In[]) => Promise<Out[]>, { maxBatch = 256, maxInFlight = 2, writeOne }: GroupCommitOptions<In, Out> = {}) {
    this.#writeMany = writeMany;
    this.#writeOne = writeOne;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  /** Queues `item` for the next write; resolves to its result once that write is committed. */
  add(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
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

  async #write(batch: Waiting<In, Out>[]): Promise<void> {
    try {
      const results = await this.#writeMany(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (err) {
      const writeOne = this.#writeOne;
      if (!writeOne || batch.length === 1 || !isDataDbError(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      for (const w of batch) await writeOne(w.item).then(w.resolve, w.reject);
    }
  }
}
