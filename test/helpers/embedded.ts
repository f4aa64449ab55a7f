/**
 * An embedded PostgreSQL of a test's own, for fault tests that stop or kill the server (never the
 * shared one at DATABASE_URL), and the processes that make it up.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embeddedPostgres.ts';

export interface OwnPostgres {
  server: EmbeddedServer;
  dir: string;
  parent: string;
  /** The postmaster's pid, from its `postmaster.pid`. */
  postmasterPid(): number;
  /** The postmaster and every process it started (backends, checkpointer, walwriter, …). */
  allPids(): number[];
  /** SIGSTOP or SIGCONT to every process of the server. */
  signalAll(signal: NodeJS.Signals): void;
}

export async function startOwnPostgres(t: { teardown(f: () => unknown): void }, label: string): Promise<OwnPostgres> {
  const parent = mkdtempSync(path.join(tmpdir(), `dundie-${label}-`));
  chmodSync(parent, 0o755);
  const dir = path.join(parent, 'pg');
  const server = await startEmbeddedPostgres(dir, pino({ level: 'warn' }));
  const own: OwnPostgres = {
    server,
    dir,
    parent,
    postmasterPid: () => Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    allPids() {
      const postmaster = own.postmasterPid();
      const children = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return (
              Number(
                readFileSync(`/proc/${p}/stat`, 'utf8')
                  .replace(/^.*\) /, '')
                  .split(' ')[1],
              ) === postmaster
            );
          } catch {
            return false;
          }
        })
        .map(Number);
      return [postmaster, ...children];
    },
    signalAll(signal) {
      for (const pid of own.allPids()) {
        try {
          process.kill(pid, signal);
        } catch {
          // gone meanwhile
        }
      }
    },
  };
  t.teardown(async () => {
    own.signalAll('SIGCONT');
    await server.stop().catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });
  return own;
}
