/**
 * Debian's PgBouncer in front of a PostgreSQL server, started by a test or a benchmark on a port
 * of its own (as the `postgres` user when we are root: PgBouncer refuses to run as root), with
 * its admin console for PAUSE, RELOAD and SHOW.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import pg from 'pg';
import { freePort, ownedDir } from './postgresCluster.ts';

export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));

export interface Target {
  host: string;
  port: number;
  user: string;
  password?: string;
}

export interface Pgbouncer {
  readonly port: number;
  readonly dir: string;
  /** A URL through the pooler to `database` on the target server. */
  url(database?: string): string;
  /** Points every database at another server and reloads (`RELOAD`), as an operator does after a failover. */
  retarget(target: Target): Promise<void>;
  /** A command on the admin console (`SHOW POOLS`, `PAUSE`, `RESUME`, …). */
  admin(command: string): Promise<Record<string, unknown>[]>;
  output(): string;
  stop(): Promise<void>;
}

export const targetOf = (url: string): Target => {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
};

export interface PgbouncerOptions {
  poolMode?: 'transaction' | 'session';
  /** More `[pgbouncer]` settings (`query_wait_timeout`, `default_pool_size`, …). */
  settings?: Record<string, string | number>;
}

export async function startPgbouncer(
  target: Target,
  { poolMode = 'transaction', settings = {} }: PgbouncerOptions = {},
): Promise<Pgbouncer> {
  if (!PGBOUNCER) throw new Error('PgBouncer is not installed (Debian: apt-get install pgbouncer)');
  const dir = ownedDir('dundie-pgbouncer-');
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  const write = (t: Target) => {
    const password = t.password ? ` password=${t.password}` : '';
    writeFileSync(path.join(dir, 'users.txt'), `"${t.user}" ""\n`);
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=${t.host} port=${t.port} user=${t.user}${password}`,
        '[pgbouncer]',
        ...Object.entries({
          listen_addr: '127.0.0.1',
          listen_port: port,
          unix_socket_dir: dir,
          auth_type: 'trust',
          auth_file: path.join(dir, 'users.txt'),
          admin_users: t.user,
          pool_mode: poolMode,
          max_client_conn: 2000,
          default_pool_size: 20,
          // A dead server is retried soon, so a failover costs seconds, not the default 15.
          server_login_retry: 1,
          ...settings,
        }).map(([k, v]) => `${k} = ${v}`),
        '',
      ].join('\n'),
    );
  };
  write(target);
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const admin = async (command: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: target.user, database: 'pgbouncer' });
    await client.connect();
    try {
      return (await client.query(command)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  for (let tries = 0; ; tries++) {
    try {
      await admin('SHOW VERSION');
      break;
    } catch (err) {
      if (tries > 100 || child.exitCode !== null)
        throw new Error(`PgBouncer did not start: ${(err as Error).message}\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    dir,
    url: (database = 'postgres') => `postgres://${encodeURIComponent(target.user)}@127.0.0.1:${port}/${database}`,
    async retarget(t) {
      write(t);
      await admin('RELOAD');
    },
    admin,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}
