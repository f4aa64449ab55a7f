/**
 * PostgreSQL servers of a test's or benchmark's own, from the machine's server binaries (Debian's
 * `postgresql-NN` under /usr/lib/postgresql): a primary, and a streaming replica made from it with
 * `pg_basebackup -R`, each in a temp dir on a port of its own, for failovers that must not touch
 * the shared server. As root (CI), the servers run as the `postgres` user, as PostgreSQL requires.
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries on the machine, or undefined where there are none. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && path.join(root, versions[0], 'bin');
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a server binary, as `postgres` when we are root. */
export async function asPostgres(command: string, args: string[]): Promise<string> {
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const { stdout } = await run(file, argv, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** A directory the `postgres` user may write to. */
export function ownedDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  if (isRoot()) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  return dir;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PostgresServer {
  readonly dir: string;
  readonly port: number;
  url(database?: string): string;
  /** `pg_ctl stop -m immediate`: the postmaster and its backends die without a checkpoint, like a crash. */
  crash(): Promise<void>;
  /** `pg_ctl promote`: a replica becomes a primary that takes writes. */
  promote(): Promise<void>;
  stop(): Promise<void>;
}

function server(bin: string, dir: string, port: number): PostgresServer {
  const pgCtl = path.join(bin, 'pg_ctl');
  return {
    dir,
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    crash: async () => void (await asPostgres(pgCtl, ['-D', dir, '-m', 'immediate', 'stop'])),
    promote: async () => void (await asPostgres(pgCtl, ['-D', dir, '-w', 'promote'])),
    async stop() {
      await asPostgres(pgCtl, ['-D', dir, '-m', 'fast', 'stop']).catch(() => {});
    },
  };
}

const settings = (port: number, socketDir: string, extra: Record<string, string>) =>
  Object.entries({
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    max_connections: '200',
    wal_level: 'replica',
    max_wal_senders: '5',
    hot_standby: 'on',
    ...extra,
  })
    .map(([k, v]) => `${k} = ${v}\n`)
    .join('');

/** A new primary in a temp dir; `synchronous`: commits wait for a standby (`synchronous_standby_names = '*'`). */
export async function startPrimary({ synchronous = false } = {}): Promise<PostgresServer & { root: string }> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const root = ownedDir('dundie-cluster-');
  const dir = path.join(root, 'primary');
  const port = await freePort();
  await asPostgres(path.join(bin, 'initdb'), ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  appendFileSync(
    path.join(dir, 'postgresql.conf'),
    settings(port, root, synchronous ? { synchronous_standby_names: "'*'" } : {}),
  );
  await asPostgres(path.join(bin, 'pg_ctl'), ['-D', dir, '-l', path.join(root, 'primary.log'), '-w', 'start']);
  return { ...server(bin, dir, port), root };
}

/** A streaming replica of `primary` (`pg_basebackup -R`), started and in recovery. */
export async function startReplica(
  primary: PostgresServer & { root: string },
  name = 'replica',
): Promise<PostgresServer> {
  const bin = postgresBinaries()!;
  const dir = path.join(primary.root, name);
  const port = await freePort();
  await asPostgres(path.join(bin, 'pg_basebackup'), [
    ...['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'],
    ...['-D', dir, '-R', '-X', 'stream', '--no-sync'],
  ]);
  appendFileSync(path.join(dir, 'postgresql.conf'), `port = ${port}\nsynchronous_standby_names = ''\n`);
  await asPostgres(path.join(bin, 'pg_ctl'), ['-D', dir, '-l', path.join(primary.root, `${name}.log`), '-w', 'start']);
  return server(bin, dir, port);
}

/** Removes a cluster's directory once its servers are stopped. */
export function removeCluster(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
