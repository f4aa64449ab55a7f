/**
 * What the benchmarks share: a database of their own (a fresh one on DATABASE_URL, or a
 * throwaway embedded PostgreSQL), statistics, and a line saying where the figures come from.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import process from 'node:process';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig, type Settings } from '../src/config.ts';
import { startThrowawayPostgres } from '../src/db/embeddedPostgres.ts';

export interface BenchDatabase {
  /** The benchmark's own database. */
  url: string;
  /** The server's maintenance database (for pgbench and the like). */
  adminUrl: string;
  serverVersion: string;
  close(): Promise<void>;
}

export async function benchDatabase(): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer = async () => {};
  if (!adminUrl) {
    const server = await startThrowawayPostgres(pino({ level: 'warn' }), 'dundie-bench-');
    adminUrl = server.adminUrl;
    stopServer = () => server.stop();
  }
  const name = `dundie_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const { rows } = await admin.query('SHOW server_version');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    adminUrl,
    serverVersion: rows[0].server_version,
    async close() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      await stopServer();
    },
  };
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export const median = (values: number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Mann–Whitney U test, two-sided, normal approximation with tie correction. */
export function mannWhitney(a: number[], b: number[]): { u: number; z: number; p: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((sum, x, i) => (x.g === 0 ? sum + ranks[i]! : sum), 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const z = (u1 - mean) / sd;
  return { u: u1, z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

export function machineLine(serverVersion: string): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, PostgreSQL ${serverVersion}`;
}

/**
 * graphile-worker's jobs at once: its better of 64 and 256 on the development machine (10,000
 * jobs to email.log, two rounds each: 318–351 and 266–300 e-mails/s). Dundie runs at its own
 * default; the peer at its best, not at a setting that slows it.
 */
export const GRAPHILE_CONCURRENCY = 64;

/** The service's settings for an in-process benchmark: its own ports, quiet, no reset limit; `env` on top. */
export function benchConfig(databaseUrl: string, env: Record<string, string> = {}): Settings {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    DUNDIE_METRICS__PORT: '0',
    DUNDIE_SECURITY__SECRET_KEY: 'bench-secret-key-that-is-long-enough-0123456789',
    DUNDIE_LOG__LEVEL: 'silent',
    DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '0',
    ...env,
  });
}
