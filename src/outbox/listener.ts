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
import type { Logger } from '../log.ts';

export interface Listener {
  close(): Promise<void>;
}

const PING_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;

export function listenForOutbox(target: ListenTarget, onWake: () => void, log: Logger): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let checked = target.verified;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;

  const reconnectLater = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };

  const drop = (c: pg.Client, why: string, err: unknown) => {
    if (client !== c) return;
    client = undefined;
    clearInterval(ping);
    log.warn({ err: (err as Error).message }, why);
    c.removeAllListeners('end');
    destroySocket(c);
    c.end().catch(() => {});
    reconnectLater();
  };

  const connect = async () => {
    const c = new pg.Client({
      connectionString: target.url,
      connectionTimeoutMillis: 5000,
      query_timeout: PING_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client = c;
    c.on('notification', () => onWake());
    // Only the current connection may schedule a reconnect; a stale one's late events are ignored.
    c.on('error', (err) => drop(c, 'LISTEN connection lost; reconnecting', err));
    c.on('end', () => drop(c, 'LISTEN connection ended; reconnecting', new Error('connection ended')));
    try {
      await c.connect();
      if (!checked) {
        if (!(await reachesServerDirectly(c))) {
          log.warn(
            'the database URL goes through a connection pooler, where LISTEN does not work: new rows are claimed on the cron tick only; set DUNDIE_DATABASE__LISTEN_URL to a direct connection for claims within milliseconds',
          );
          closed = true;
          client = undefined;
          c.removeAllListeners('end');
          await c.end().catch(() => {});
          return;
        }
        checked = true;
      }
      await c.query('LISTEN outbox');
      if (closed) return void c.end().catch(() => {});
      if (retryMs > 250) log.info('LISTEN connection back');
      retryMs = 250;
      ping = setInterval(() => {
        c.query('SELECT 1').catch((err) => drop(c, 'LISTEN connection does not answer; reconnecting', err));
      }, PING_MS);
      ping.unref();
      onWake();
    } catch (err) {
      if (client === c) drop(c, 'could not LISTEN; retrying', err);
    }
  };

  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(ping);
      const c = client;
      client = undefined;
      c?.removeAllListeners('end');
      await c?.end().catch(() => {});
    },
  };
}
