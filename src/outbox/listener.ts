/**
 * `LISTEN outbox` on a connection of its own (not from the pool: a pooled connection would be
 * handed to queries). Each notification calls `onWake`. When the connection breaks it
 * reconnects by itself with a growing pause, and wakes once after reconnecting, since
 * notifications sent while it was away are lost.
 */
import pg from 'pg';
import type { Logger } from '../log.ts';

export interface Listener {
  close(): Promise<void>;
}

export function listenForOutbox(url: string, onWake: () => void, log: Logger): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;

  const reconnectLater = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };

  const connect = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, keepAlive: true });
    client = c;
    c.on('notification', () => onWake());
    // Only the current connection may schedule a reconnect; a stale one's late events are ignored.
    c.on('error', (err) => {
      if (client !== c) return;
      log.warn({ err: err.message }, 'LISTEN connection lost; reconnecting');
      c.end().catch(() => {});
      reconnectLater();
    });
    c.on('end', () => {
      if (client === c) reconnectLater();
    });
    try {
      await c.connect();
      await c.query('LISTEN outbox');
      if (closed) return void c.end().catch(() => {});
      if (retryMs > 250) log.info('LISTEN connection back');
      retryMs = 250;
      onWake();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not LISTEN; retrying');
      c.removeAllListeners('end');
      c.end().catch(() => {});
      reconnectLater();
    }
  };

  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      client?.removeAllListeners('end');
      await client?.end().catch(() => {});
    },
  };
}
