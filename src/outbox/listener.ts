/**
 * `LISTEN outbox` on a connection of its own (not from the pool: a pooled connection would be
 * handed to queries). Each notification calls `onWake`. When the connection breaks it
 * reconnects by itself with a growing pause, and wakes once after reconnecting, since
 * notifications sent while it was away are lost. A connection that stops answering (its server
 * gone behind a pooler or a partition, with no word on the socket) is found by a periodic ping
 * and replaced the same way.
 *
 * Through a transaction pooler LISTEN cannot work: the session it belongs to is handed to other
 * clients after each statement. Unless the operator named the URL for listening (`verified`),
 * the first connection checks that it reaches PostgreSQL itself; if not, it says so once and
 * gives up, and the dispatcher claims on its cron tick alone.
 */
import pg from 'pg';
import { destroySocket, reachesServerDirectly } from '../db/connections.ts';
import type { ListenTarget } from '../db/database.ts';
import { exponential } from '../delays.ts';
import type { Logger } from '../log.ts';
import { retrying } from '../retrying.ts';

export interface Listener {
  close(): Promise<void>;
}

const PING_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;
/** Jittered: every dispatcher loses its connection at the same moment (a restart, a failover). */
const RECONNECT_DELAY = exponential({ first: 250, max: 10_000, jitter: 'equal' });

/** A connection that LISTENed and broke; the message is what the log says. */
class Dropped extends Error {}

export function listenForOutbox(target: ListenTarget, onWake: () => void, log: Logger): Listener {
  const closing = new AbortController();
  const closed = new Promise<void>((resolve) => closing.signal.addEventListener('abort', () => resolve()));
  let checked = target.verified;

  /** One connection: LISTENs, then holds until it breaks (throws) or the listener closes. */
  const session = async (attempt: number): Promise<void> => {
    const c = new pg.Client({
      connectionString: target.url,
      connectionTimeoutMillis: 5000,
      query_timeout: PING_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    let drop!: (why: string, err: unknown) => void;
    const dropped = new Promise<never>((_, reject) => {
      drop = (why, err) => reject(new Dropped(why, { cause: err }));
    });
    // Whatever comes first: the step, the connection breaking, or the listener closing.
    const until = <T>(step: Promise<T>) => Promise.race([step, dropped, closed]);
    c.on('notification', () => onWake());
    c.on('error', (err) => drop('LISTEN connection lost; reconnecting', err));
    c.on('end', () => drop('LISTEN connection ended; reconnecting', new Error('connection ended')));
    let ping: NodeJS.Timeout | undefined;
    let broken = false;
    try {
      await until(c.connect());
      if (!checked && !closing.signal.aborted) {
        if (!(await until(reachesServerDirectly(c)))) {
          if (closing.signal.aborted) return;
          log.warn(
            'the database URL goes through a connection pooler, where LISTEN does not work: new rows are claimed on the cron tick only; set DUNDIE_DATABASE__LISTEN_URL to a direct connection for claims within milliseconds',
          );
          return;
        }
        checked = true;
      }
      if (closing.signal.aborted) return;
      await until(c.query('LISTEN outbox'));
      if (closing.signal.aborted) return;
      if (attempt > 1) log.info('LISTEN connection back');
      ping = setInterval(() => {
        c.query('SELECT 1').catch((err) => drop('LISTEN connection does not answer; reconnecting', err));
      }, PING_MS);
      ping.unref();
      // Notifications sent while it was away are lost: claim once for them.
      onWake();
      await until(new Promise<never>(() => {}));
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      clearInterval(ping);
      c.removeAllListeners('end');
      // A connection that broke may never answer a polite goodbye; a closing one is asked for one.
      if (broken) {
        destroySocket(c);
        void c.end().catch(() => {});
      } else await c.end().catch(() => {});
    }
  };

  const running = retrying(session, {
    delay: RECONNECT_DELAY,
    // A connection that held past a ping had worked: the next one is tried soon again.
    startOverAfterMs: PING_MS,
    signal: closing.signal,
    onRetry: (err) => {
      if (err instanceof Dropped) log.warn({ err: (err.cause as Error).message }, err.message);
      else log.warn({ err: (err as Error).message }, 'could not LISTEN; retrying');
    },
  }).catch(() => {
    // Only a close ends it early, during a pause.
  });

  return {
    async close() {
      closing.abort();
      await running;
    },
  };
}
