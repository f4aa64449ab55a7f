/**
 * Works one claimed row: runs its kind's task and records how it ended (`sent`, `skipped`, or a
 * failed attempt with backoff). Rows in flight together share the statement that records their
 * ends (group commit), so a busy dispatcher pays one write per handful of rows.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { isTransientDbError } from '../db/errors.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import type { Logger } from '../log.ts';
import { backoffSeconds } from './backoff.ts';
import { finishMany, markFailed, type Finish, type OutboxRow } from './queries.ts';
import { PermanentFailure, type TaskList } from './tasks.ts';

interface CounterLike<L extends string> {
  inc(labels: Partial<Record<L, string>>): void;
}
interface HistogramLike<L extends string> {
  observe(labels: Partial<Record<L, string>>, value: number): void;
}

/** What the dispatcher counts; `metrics.ts` provides it (prom-client). */
export interface DispatchMetrics {
  sent: CounterLike<'kind'>;
  skipped: CounterLike<'kind' | 'reason'>;
  failures: CounterLike<'kind'>;
  sendSeconds: HistogramLike<'kind'>;
  delaySeconds: HistogramLike<'kind'>;
}

export interface WorkerDeps {
  db: Db;
  tasks: TaskList;
  settings: Settings['dispatcher'];
  log: Logger;
  /** Written to `locked_by`, so operators can tell which process holds a row. */
  workerId: string;
  metrics?: DispatchMetrics;
}

export type Outcome = 'sent' | 'skipped' | 'failed';

/** Records `finish` only while this worker holds the row; the rows in flight share one statement. */
export type FinishWriter = (finish: Finish) => Promise<boolean>;

export function finishWriter({ db, workerId }: Pick<WorkerDeps, 'db' | 'workerId'>): FinishWriter {
  const finishes = new GroupCommit((batch: Finish[]) => finishMany(db, workerId, batch));
  return (finish) => finishes.add(finish);
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Records an outcome, retrying while the database is away (a restart, a failover) for up to half
 * the lease: an e-mail that went out should not go out again just because its `sent` was lost.
 * Any other error (a bug, a refused value) is not worth waiting for.
 */
async function record<T>(settings: WorkerDeps['settings'], write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (settings.LEASE_SECONDS * 1000) / 2;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      if (!isTransientDbError(err) || Date.now() + pause > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** Runs the row's task and records the outcome. Never throws: a failure is recorded or left to the lease. */
export async function processRow(
  deps: WorkerDeps,
  row: OutboxRow,
  finish: FinishWriter = finishWriter(deps),
): Promise<Outcome> {
  const { db, workerId, log, settings, metrics, tasks } = deps;
  // Counted at the claim: row.attempts is this try's number. Made only for a row that logs.
  const rowLog = () => log.child({ outboxId: row.id, kind: row.kind, attempt: row.attempts });
  const started = performance.now();
  try {
    const task = tasks[row.kind];
    // Not claimed by the dispatcher (claimDue's `known`); reachable only by handing a row in directly.
    if (!task) throw new Error(`no task for kind "${row.kind}"`);
    const outcome = await task.run(row);
    if (outcome.sent) {
      metrics?.sendSeconds.observe({ kind: row.kind }, (performance.now() - started) / 1000);
      await record(settings, () => finish({ id: row.id, status: 'sent', reason: null }));
      metrics?.sent.inc({ kind: row.kind });
      metrics?.delaySeconds.observe({ kind: row.kind }, (Date.now() - new Date(row.created_at).getTime()) / 1000);
      rowLog().info('sent');
      return 'sent';
    }
    await record(settings, () => finish({ id: row.id, status: 'skipped', reason: outcome.skipped }));
    metrics?.skipped.inc({ kind: row.kind, reason: outcome.skipped });
    // At debug: the row says why and the metrics count it, and an address-bombing flood would
    // otherwise write a line per bogus request here on top of the request's own.
    if (log.isLevelEnabled('debug')) rowLog().debug({ reason: outcome.skipped }, 'skipped');
    return 'skipped';
  } catch (err) {
    metrics?.failures.inc({ kind: row.kind });
    const failure = {
      error: err instanceof PermanentFailure ? err.message : errorText(err),
      permanent: err instanceof PermanentFailure,
      retryInSeconds: backoffSeconds(settings, row.attempts),
      giveUpAfterSeconds: settings.GIVE_UP_AFTER,
    };
    try {
      const status = await record(settings, () => markFailed(db, row.id, workerId, failure));
      const retryInSeconds = status === 'pending' ? Math.round(failure.retryInSeconds) : undefined;
      rowLog().warn(
        { err: failure.error, permanent: failure.permanent || undefined, status, retryInSeconds },
        'send failed',
      );
    } catch (dbErr) {
      // The lease will lapse and the row will be tried again: nothing is lost.
      rowLog().error({ err: errorText(dbErr) }, 'could not record the failure; the lease will hand the row on');
    }
    return 'failed';
  }
}
