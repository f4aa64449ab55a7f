/**
 * The HTTP server around an app, with the limits a public server needs set on purpose (Node's
 * defaults give a client 60 s to send its headers and 300 s for its request), a cap on open
 * connections, and a shutdown that resets nobody.
 *
 * Shutdown (`close`): the listener stops accepting at once; responses in flight, and requests that
 * still arrive on open keep-alive connections, are answered with `Connection: close`, so each
 * socket ends after its response; idle keep-alive sockets are not cut (a client may be writing its
 * next request on one at that instant, and would get ECONNRESET: docs/reliability.md) but left to
 * the keep-alive timeout, which clients are told (`Keep-Alive: timeout=N`) and close before. Whatever is
 * still open after `drainSeconds` is closed.
 *
 * Connections: one client address holds at most MAX_CONNECTIONS_PER_CLIENT (more are closed as
 * they arrive; none of its open ones is cut, since it may be writing on one), so one address
 * cannot take every slot. At
 * MAX_CONNECTIONS in all, a new arrival takes the slot of an idle or half-sent connection (no
 * request being answered on it) of the client holding the most, rather than being turned away
 * while a hog's idle sockets sit there; only when every connection is busy is it refused.
 */
import { createServer, Server, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { clientKey } from '../auth/clientKey.ts';

export interface ServerLimits {
  /** A client must have sent all its headers within this long after connecting (slowloris). */
  HEADERS_TIMEOUT_SECONDS: number;
  /** …and its whole request, body included, within this long. */
  REQUEST_TIMEOUT_SECONDS: number;
  /** An idle keep-alive connection is closed after this long. */
  KEEP_ALIVE_TIMEOUT_SECONDS: number;
  /** Open connections at most (idle ones are shed for new arrivals first). */
  MAX_CONNECTIONS: number;
  /** Open connections at most from one client address (IPv6: its /64); 0: no such cap. */
  MAX_CONNECTIONS_PER_CLIENT: number;
}

export interface HttpServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets requests in flight finish and connections drain, then resolves. */
  close(drainSeconds?: number): Promise<void>;
}

const RESPONSES = Symbol('responses');
type Tracked = ServerResponse & { [RESPONSES]?: ServerResponse[] };

/** A response's `close` listener, one for all: a closure per request would be garbage per request. */
function forgetResponse(this: Tracked) {
  const responses = this[RESPONSES];
  const at = responses ? responses.indexOf(this) : -1;
  if (at >= 0) responses!.splice(at, 1);
}

export function createHttpServer(handler: RequestListener, limits: ServerLimits): HttpServer {
  const server = createServer({
    headersTimeout: limits.HEADERS_TIMEOUT_SECONDS * 1000,
    requestTimeout: limits.REQUEST_TIMEOUT_SECONDS * 1000,
    keepAliveTimeout: limits.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    // How often Node checks the two timeouts above; its default (30 s) would let them run over by that much.
    connectionsCheckingInterval: Math.min(1000, limits.HEADERS_TIMEOUT_SECONDS * 500),
  });
  let draining = false;
  /**
   * The responses each socket is answering (more than one when requests are pipelined), in
   * order. Kept by socket rather than in a Set of responses: in V8 (Node 20) what was added to a
   * long-lived Set or Map, even once deleted, survives the young generation's collections, so
   * every request would be promoted to the old one and left for mark-compacts to find
   * (docs/performance.md, "Garbage that outlived its request").
   */
  const answering = new WeakMap<Socket, ServerResponse[]>();
  const isBusy = (socket: Socket) => (answering.get(socket)?.length ?? 0) > 0;
  /** Open sockets by client key, each set oldest first. */
  const byClient = new Map<string, Set<Socket>>();
  let open = 0;

  /** Closes the oldest socket of `sockets` with no request in flight; false when all are busy. */
  const shedIdle = (sockets: Set<Socket>): boolean => {
    for (const socket of sockets) {
      if (isBusy(socket)) continue;
      socket.destroy();
      sockets.delete(socket);
      open--;
      return true;
    }
    return false;
  };
  const shedFromBiggest = (): boolean =>
    [...byClient.values()].sort((a, b) => b.size - a.size).some((sockets) => shedIdle(sockets));

  server.on('connection', (socket: Socket) => {
    const perClient = limits.MAX_CONNECTIONS_PER_CLIENT;
    const key = perClient > 0 ? clientKey(socket.remoteAddress ?? '') : '';
    const mine = byClient.get(key) ?? new Set<Socket>();
    const admitted = (perClient === 0 || mine.size < perClient) && (open < limits.MAX_CONNECTIONS || shedFromBiggest());
    if (!admitted) return void socket.destroy();
    mine.add(socket);
    byClient.set(key, mine);
    open++;
    socket.once('close', () => {
      if (mine.delete(socket)) open--;
      if (mine.size === 0 && byClient.get(key) === mine) byClient.delete(key);
    });
  });
  // Registered before the app's handler, so the header is set before the app can answer.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req;
    let responses = answering.get(socket);
    if (!responses) answering.set(socket, (responses = []));
    responses.push(res);
    (res as Tracked)[RESPONSES] = responses;
    if (draining) res.setHeader('Connection', 'close');
    res.on('close', forgetResponse);
  });
  server.on('request', handler);

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    close(drainSeconds = limits.KEEP_ALIVE_TIMEOUT_SECONDS) {
      if (draining) return Promise.resolve();
      draining = true;
      for (const sockets of byClient.values())
        for (const socket of sockets)
          for (const res of answering.get(socket) ?? []) if (!res.headersSent) res.setHeader('Connection', 'close');
      return new Promise((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), drainSeconds * 1000 + 100);
        timer.unref();
        // net.Server's close: stops listening without http.Server's closeIdleConnections().
        net.Server.prototype.close.call(server, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
