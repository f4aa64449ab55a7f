/**
 * The long-running dispatcher. Up to CONCURRENCY rows are in flight at once, each on its own: a
 * slow or failing row holds no other up. Claims come in batches of BATCH_SIZE, the next one as
 * soon as the rows claimed before have all been started, when woken by a notification
 * (LISTEN/NOTIFY), by the cron safety net, or by a slot falling free while the last claim found
 * more work. Leases of rows held are renewed until they finish. node-cron only triggers claims.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';
import cron, { type ScheduledTask } from 'node-cron';
import type { ListenTarget } from '../db/database.ts';
import { listenForOutbox, type Listener } from './listener.ts';
import { finishWriter, processRow, type FinishWriter, type WorkerDeps } from './processRow.ts';
import { claimDue, release, renewLeases, type KnownKind, type OutboxRow } from './queries.ts';
import { claimable } from './tasks.ts';

export const newWorkerId = () => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * `running`: claiming and working rows. `stopping`: no more claims; rows in flight finish within
 * the grace. `stopped`: nothing in flight, timers and the LISTEN connection closed.
 */
type State = 'running' | 'stopping' | 'stopped';

/**
 * Whether a claim is under way: `idle`, `claiming`, or `claimingAgain` when woken meanwhile (a
 * notification that arrives during a claim may be for a row the claim just missed).
 */
type ClaimState = 'idle' | 'claiming' | 'claimingAgain';

export class Dispatcher {
  #state: State = 'running';
  #claimState: ClaimState = 'idle';
  #claiming: Promise<void> | undefined;
  /** True once a claim came back short: slots falling free need not claim again until woken. */
  #drained = false;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Claimed ahead and waiting for a free slot, so that one claim serves a batch of rows. */
  readonly #ready: OutboxRow[] = [];
  readonly #finish: FinishWriter;
  readonly #renewal: NodeJS.Timeout;
  readonly #safetyNet: ScheduledTask;
  readonly #listener: Listener | undefined;
  /** The kinds and payload versions this dispatcher's tasks read: all it claims. */
  readonly #known: KnownKind[];

  /** Starts at once: whatever is due already (rows queued while no dispatcher ran) is claimed. */
  constructor(
    private readonly deps: WorkerDeps,
    { listen }: { listen?: ListenTarget } = {},
  ) {
    const { settings, log } = deps;
    this.#finish = finishWriter(deps);
    this.#known = claimable(deps.tasks);
    this.#renewal = setInterval(() => this.#renewLeases(), (settings.LEASE_SECONDS * 1000) / 3);
    this.#renewal.unref();
    this.#safetyNet = cron.schedule(settings.CRON, () => this.wake(), { name: 'outbox-safety-net' });
    this.#listener = listen && settings.LISTEN ? listenForOutbox(listen, () => this.wake(), log) : undefined;
    log.info(
      {
        workerId: deps.workerId,
        cron: settings.CRON,
        listen: Boolean(this.#listener),
        concurrency: settings.CONCURRENCY,
        // During a rolling deploy, says which rows this process leaves for another.
        reads: this.#known.map((k) => `${k.kind} v${k.payloadVersion}`),
      },
      'dispatcher started',
    );
    this.wake();
  }

  get state(): State {
    return this.#state;
  }

  /** Claims now instead of at the next tick (a notification, a test). */
  wake(): void {
    this.#drained = false;
    this.#fill();
  }

  /** Stops claiming, hands back rows not started, waits for the rows in flight up to SHUTDOWN_GRACE_SECONDS. */
  async stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    const { log, settings } = this.deps;
    await this.#safetyNet.destroy();
    await this.#listener?.close();
    await this.#claiming;
    await this.#handBack(this.#ready.splice(0));
    const settled = Promise.all(this.#inFlight.values()).then(() => true);
    const grace = new Promise<false>((r) => setTimeout(() => r(false), settings.SHUTDOWN_GRACE_SECONDS * 1000).unref());
    const inTime = await Promise.race([settled, grace]);
    clearInterval(this.#renewal);
    if (!inTime)
      log.warn(
        { rows: [...this.#inFlight.keys()] },
        'shutdown grace over: rows still in flight are left to their leases',
      );
    this.#state = 'stopped';
    log.info('dispatcher stopped');
  }

  #startReady(): void {
    const { CONCURRENCY } = this.deps.settings;
    while (this.#state === 'running' && this.#inFlight.size < CONCURRENCY && this.#ready.length > 0) {
      this.#start(this.#ready.shift()!);
    }
  }

  #start(row: OutboxRow): void {
    const done = processRow(this.deps, row, this.#finish).then(() => {
      this.#inFlight.delete(row.id);
      this.#fill();
    });
    this.#inFlight.set(row.id, done);
  }

  #fill(): void {
    this.#startReady();
    if (this.#state !== 'running') return;
    if (this.#claimState !== 'idle') {
      this.#claimState = 'claimingAgain';
      return;
    }
    this.#claimState = 'claiming';
    this.#claiming = this.#claimWhileNeeded().finally(() => {
      this.#claimState = 'idle';
      this.#claiming = undefined;
    });
  }

  async #claimWhileNeeded(): Promise<void> {
    const { db, workerId, settings, log } = this.deps;
    try {
      do {
        this.#claimState = 'claiming';
        while (this.#state === 'running' && !this.#drained && this.#ready.length === 0) {
          const rows = await claimDue(db, workerId, settings.BATCH_SIZE, settings.LEASE_SECONDS, {
            known: this.#known,
          });
          this.#drained = rows.length < settings.BATCH_SIZE;
          this.#ready.push(...rows);
          this.#startReady();
        }
      } while (this.#claimingAgain() && this.#state === 'running');
    } catch (err) {
      log.warn({ err: errorText(err) }, 'could not claim rows; will try again');
    }
  }

  /** Read through a method: TypeScript would otherwise narrow the field to what the loop last set. */
  #claimingAgain(): boolean {
    return this.#claimState === 'claimingAgain';
  }

  #renewLeases(): void {
    const held = [...this.#inFlight.keys(), ...this.#ready.map((r) => r.id)];
    if (held.length === 0) return;
    const { db, workerId, settings, log } = this.deps;
    renewLeases(db, held, workerId, settings.LEASE_SECONDS).catch((err) =>
      log.warn({ err: errorText(err) }, 'could not renew leases'),
    );
  }

  async #handBack(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { db, workerId, log } = this.deps;
    try {
      await release(
        db,
        rows.map((r) => r.id),
        workerId,
      );
    } catch (err) {
      log.warn({ err: errorText(err), rows: rows.length }, 'could not hand rows back; their leases will');
    }
  }
}
