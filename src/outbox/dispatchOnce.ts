/**
 * One claim and its rows, as a plain function: the CLI (`dispatch --once`), the tests and the
 * shell call it; the long-running `Dispatcher` does the same work continuously.
 */
import { processRow, finishWriter, type Outcome, type WorkerDeps } from './processRow.ts';
import { claimDue, release } from './queries.ts';
import { claimable } from './tasks.ts';

export interface DispatchResult {
  claimed: number;
  sent: number;
  skipped: number;
  failed: number;
  /** Claimed but handed back unstarted because a stop was asked for. */
  released: number;
}

const emptyResult = (): DispatchResult => ({ claimed: 0, sent: 0, skipped: 0, failed: 0, released: 0 });

/** Runs `work` over `items` with at most `limit` at once; unstarted items are returned when `shouldStop()`. */
async function eachLimited<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
  shouldStop: () => boolean,
): Promise<T[]> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !shouldStop()) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return items.slice(next);
}

/**
 * Claims one batch (of the rows `ids`, when given) and works it, CONCURRENCY rows at a time.
 * Rows still unstarted when `shouldStop()` turns true are handed back for another dispatcher.
 */
export async function dispatchOnce(
  deps: WorkerDeps,
  { shouldStop = () => false, ids }: { shouldStop?: () => boolean; ids?: readonly string[] } = {},
): Promise<DispatchResult> {
  const { BATCH_SIZE, LEASE_SECONDS, CONCURRENCY } = deps.settings;
  const rows = await claimDue(deps.db, deps.workerId, BATCH_SIZE, LEASE_SECONDS, { ids, known: claimable(deps.tasks) });
  const result = { ...emptyResult(), claimed: rows.length };
  const finish = finishWriter(deps);
  const count = (outcome: Outcome) => void result[outcome]++;
  const unstarted = await eachLimited(
    rows,
    CONCURRENCY,
    async (row) => count(await processRow(deps, row, finish)),
    shouldStop,
  );
  if (unstarted.length > 0)
    result.released = await release(
      deps.db,
      unstarted.map((r) => r.id),
      deps.workerId,
    );
  return result;
}

/** Batch after batch until nothing is due (or a stop is asked for). */
export async function dispatchUntilIdle(
  deps: WorkerDeps,
  shouldStop: () => boolean = () => false,
): Promise<DispatchResult> {
  const total = emptyResult();
  for (;;) {
    const r = await dispatchOnce(deps, { shouldStop });
    for (const key of Object.keys(total) as (keyof DispatchResult)[]) total[key] += r[key];
    if (r.claimed < deps.settings.BATCH_SIZE || shouldStop()) return total;
  }
}
