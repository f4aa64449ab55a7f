/**
 * Works the outbox. `dispatchOnce()` is a plain function: claim a batch of due rows, send each,
 * record how it ended. node-cron, the CLI (`dispatch --once`) and the tests all call it; the
 * scheduler only decides when.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';
import cron from 'node-cron';
import type { Settings } from '../config.ts';
import type { Db } from '../db.ts';
import type { Logger } from '../log.ts';
import type { Mailer } from './mailer.ts';
import { PWD_CHANGED_EMAIL, sendPwdChangedEmail } from './pwdChangedEmail.ts';
import { PWD_RESET_EMAIL, THROTTLED, tryToSendPwdResetEmail, type SendOutcome } from './pwdResetEmail.ts';
import { takeResetSlot } from './throttle.ts';
import { claimDue, markFailed, markSent, markSkipped, release, type OutboxRow } from './queries.ts';

export interface DispatcherDeps {
  db: Db;
  config: Settings;
  mailer: Mailer;
  log: Logger;
  /** Written to `locked_by`, so operators can tell which process holds a row. */
  workerId: string;
}

export interface DispatchResult {
  claimed: number;
  sent: number;
  skipped: number;
  failed: number;
  /** Claimed but handed back unstarted because a stop was asked for. */
  released: number;
}

type Handler = (deps: DispatcherDeps, row: OutboxRow) => Promise<SendOutcome>;

const handlers: Record<string, Handler> = {
  async [PWD_RESET_EMAIL](deps, row) {
    const email = String(row.payload.email);
    const allowed = await takeResetSlot(deps.db, email, row.id, deps.config.security.PWD_RESET_COOLDOWN_SECONDS);
    if (!allowed) return { sent: false, skipped: THROTTLED };
    return tryToSendPwdResetEmail(deps, email);
  },
  [PWD_CHANGED_EMAIL]: (deps, row) => sendPwdChangedEmail(deps, row.payload),
};

export const newWorkerId = () => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** Seconds before the next try after `attempts` failed ones: base, 2×base, 4×base, … capped. */
export function backoffSeconds(dispatcher: Settings['dispatcher'], attempts: number): number {
  return Math.min(dispatcher.BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempts - 1), dispatcher.BACKOFF_MAX_SECONDS);
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

async function processRow(deps: DispatcherDeps, row: OutboxRow, result: DispatchResult): Promise<void> {
  const { db, workerId, log, config } = deps;
  const rowLog = log.child({ outboxId: row.id, kind: row.kind, attempt: row.attempts + 1 });
  try {
    const handler = handlers[row.kind];
    // An unknown kind may come from a newer release during a rolling deploy: retry, don't drop.
    if (!handler) throw new Error(`no handler for kind "${row.kind}"`);
    const outcome = await handler(deps, row);
    if (outcome.sent) {
      await markSent(db, row.id, workerId);
      result.sent++;
      rowLog.info('sent');
    } else {
      await markSkipped(db, row.id, workerId, outcome.skipped);
      result.skipped++;
      rowLog.info({ reason: outcome.skipped }, 'skipped');
    }
  } catch (err) {
    result.failed++;
    const retryIn = backoffSeconds(config.dispatcher, row.attempts + 1);
    try {
      const status = await markFailed(db, row.id, workerId, errorText(err), retryIn);
      rowLog.warn({ err: errorText(err), status, retryInSeconds: status === 'pending' ? retryIn : undefined }, 'send failed');
    } catch (dbErr) {
      // The lease will lapse and the row will be tried again: nothing is lost.
      rowLog.error({ err: errorText(dbErr) }, 'could not record the failure');
    }
  }
}

/**
 * Claims one batch and works it. Rows still unstarted when `shouldStop()` turns true are handed
 * back so that another dispatcher can take them at once.
 */
export async function dispatchOnce(deps: DispatcherDeps, shouldStop: () => boolean = () => false): Promise<DispatchResult> {
  const { BATCH_SIZE, LEASE_SECONDS } = deps.config.dispatcher;
  const rows = await claimDue(deps.db, deps.workerId, BATCH_SIZE, LEASE_SECONDS);
  const result: DispatchResult = { claimed: rows.length, sent: 0, skipped: 0, failed: 0, released: 0 };
  for (const [i, row] of rows.entries()) {
    if (shouldStop()) {
      result.released = await release(deps.db, rows.slice(i).map((r) => r.id), deps.workerId);
      break;
    }
    await processRow(deps, row, result);
  }
  return result;
}

/** Batch after batch until nothing is due (or a stop is asked for). */
export async function dispatchUntilIdle(deps: DispatcherDeps, shouldStop: () => boolean = () => false): Promise<DispatchResult> {
  const total: DispatchResult = { claimed: 0, sent: 0, skipped: 0, failed: 0, released: 0 };
  for (;;) {
    const r = await dispatchOnce(deps, shouldStop);
    for (const key of Object.keys(total) as (keyof DispatchResult)[]) total[key] += r[key];
    if (r.claimed < deps.config.dispatcher.BATCH_SIZE || shouldStop()) return total;
  }
}

export interface RunningDispatcher {
  /** Stops the schedule, lets the row in hand finish, hands back the rest of the batch. */
  stop(): Promise<void>;
}

/** The dispatcher role: node-cron triggers `dispatchUntilIdle`; ticks never overlap. */
export function startDispatcher(deps: DispatcherDeps): RunningDispatcher {
  let stopping = false;
  let inFlight: Promise<unknown> | undefined;
  const tick = () => {
    if (inFlight || stopping) return;
    inFlight = dispatchUntilIdle(deps, () => stopping)
      .catch((err) => deps.log.error({ err: errorText(err) }, 'dispatch tick failed'))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  const task = cron.schedule(deps.config.dispatcher.CRON, tick, { name: 'outbox-dispatcher', noOverlap: true });
  deps.log.info({ workerId: deps.workerId, cron: deps.config.dispatcher.CRON }, 'dispatcher started');
  return {
    async stop() {
      stopping = true;
      await task.destroy();
      await inFlight;
      deps.log.info('dispatcher stopped');
    },
  };
}
