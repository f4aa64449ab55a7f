/**
 * Works one claimed row: runs its kind's task and records how it ended (`sent`, `skipped`, or a
 * failed attempt with backoff). Rows in flight together share the statement that records their
 * ends (group commit), so a busy dispatcher pays one write per handful of rows.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { isRowBoundDbError, isTransientDbError, transientDelay } from '../db/errors.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import { backoffSeconds } from '../delays.ts';
import type { Logger } from '../log.ts';
import { retrying } from '../retrying.ts';
import { finishMany, markFailed, markStartedMany, release, type Finish, type OutboxRow } from './queries.ts';
import { HandBack, PermanentFailure, RetryLater, type TaskList } from './taskList.ts';

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

export interface DispatcherDeps {
  db: Db;
  tasks: TaskList;
  settings: Settings['dispatcher'];
  log: Logger;
  /** Written to `locked_by`, so operators can tell which process holds a row. */
  workerId: string;
  metrics?: DispatchMetrics;
}

/** `released`: called off before it began (a stop), handed back with its try not counted. */
export type Outcome = 'sent' | 'skipped' | 'failed' | 'released';

/**
 * Records a row's end (with its task's write, if it has one) only while this dispatcher holds the
 * row; the rows in flight share one statement.
 */
export type FinishWriter = (finish: Finish) => Promise<boolean>;

export function finishWriter({ db, workerId }: Pick<DispatcherDeps, 'db' | 'workerId'>): FinishWriter {
  const finishes = new GroupCommit((batch: Finish[]) => finishMany(db, workerId, batch), {
    // A row's own write that the database refuses fails that row alone, not the batch it came in.
    bisect: isRowBoundDbError,
    // One statement at a time: rows ending meanwhile make the next one larger.
    maxInFlight: 1,
  });
  return (finish) => finishes.add(finish);
}

/** Marks a row started (false when its lease was lost); rows starting together share one UPDATE. */
export type StartWriter = (id: string) => Promise<boolean>;

export function startWriter({ db, workerId }: Pick<DispatcherDeps, 'db' | 'workerId'>): StartWriter {
  const starts = new GroupCommit((ids: string[]) => markStartedMany(db, ids, workerId));
  return (id) => starts.add(id);
}

/** How a row's start and end are written; one set per dispatcher, so its rows share statements. */
export interface RowWriters {
  start: StartWriter;
  finish: FinishWriter;
}

export const rowWriters = (deps: Pick<DispatcherDeps, 'db' | 'workerId'>): RowWriters => ({
  start: startWriter(deps),
  finish: finishWriter(deps),
});

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Records an outcome, retrying while the database is away (a restart, a failover) for up to half
 * the lease: an e-mail that went out should not go out again just because its `sent` was lost.
 * Any other error (a bug, a refused value) is not worth waiting for.
 */
const record = <T>(settings: DispatcherDeps['settings'], write: () => Promise<T>): Promise<T> =>
  retrying(write, {
    retryIf: isTransientDbError,
    delay: transientDelay,
    deadline: Date.now() + (settings.LEASE_SECONDS * 1000) / 2,
  });

/**
 * Runs the row's task and records the outcome. Never throws: a failure is recorded or left to the
 * lease. `signal` aborts when the dispatcher stops: a task that had not begun hands the row back.
 */
export async function processRow(
  deps: DispatcherDeps,
  row: OutboxRow,
  { start, finish }: RowWriters = rowWriters(deps),
  signal?: AbortSignal,
): Promise<Outcome> {
  const { db, workerId, log, settings, metrics, tasks } = deps;
  // Counted at the claim: row.attempts is this try's number. Made only for a row that logs.
  const rowLog = () => log.child({ outboxId: row.id, kind: row.kind, attempt: row.attempts });
  const started = performance.now();
  try {
    const task = tasks[row.kind];
    // Not claimed by the dispatcher (claimDue's `known`); reachable only by handing a row in directly.
    if (!task) throw new Error(`no task for kind "${row.kind}"`);
    // Claimed ahead of a free slot (or a suspect): from here a crash counts against this row.
    if (!row.started_at && !(await record(settings, () => start(row.id))))
      throw new Error('lease lost before the row started');
    const outcome = await task.run(row, { signal });
    if (outcome.sent) {
      metrics?.sendSeconds.observe({ kind: row.kind }, (performance.now() - started) / 1000);
      await record(settings, () => finish({ id: row.id, status: 'sent', reason: null, alongside: outcome.alongside }));
      metrics?.sent.inc({ kind: row.kind });
      metrics?.delaySeconds.observe({ kind: row.kind }, (Date.now() - new Date(row.created_at).getTime()) / 1000);
      rowLog().info('sent');
      return 'sent';
    }
    await record(settings, () =>
      finish({ id: row.id, status: 'skipped', reason: outcome.skipped, alongside: outcome.alongside }),
    );
    metrics?.skipped.inc({ kind: row.kind, reason: outcome.skipped });
    // At debug: the row says why and the metrics count it, and an address-bombing flood would
    // otherwise write a line per bogus request here on top of the request's own.
    if (log.isLevelEnabled('debug')) rowLog().debug({ reason: outcome.skipped }, 'skipped');
    return 'skipped';
  } catch (err) {
    if (err instanceof HandBack) {
      // Not a try: another dispatcher takes it at once, or this one's lease does if this fails.
      await release(db, [row.id], workerId).catch((dbErr: unknown) =>
        rowLog().warn({ err: errorText(dbErr) }, 'could not hand the row back; its lease will'),
      );
      return 'released';
    }
    metrics?.failures.inc({ kind: row.kind });
    const failure = {
      error: err instanceof PermanentFailure || err instanceof RetryLater ? err.message : errorText(err),
      permanent: err instanceof PermanentFailure,
      retryInSeconds: Math.max(
        backoffSeconds(settings, row.attempts),
        err instanceof RetryLater ? err.retryInSeconds : 0,
      ),
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
