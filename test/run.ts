/**
 * `npm test`: ava against real PostgreSQL. With DATABASE_URL set, the tests use that server
 * (each test file makes and drops its own database on it); without, this starts a throwaway
 * embedded PostgreSQL for the run and removes it afterwards.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { pino } from 'pino';
import { startThrowawayPostgres } from '../src/db/embeddedPostgres.ts';

const log = pino({ level: process.env.DUNDIE_LOG__LEVEL ?? 'warn' });
const env = { ...process.env };
let stop = async () => {};

if (!env.DATABASE_URL) {
  const server = await startThrowawayPostgres(log, 'dundie-test-');
  env.DATABASE_URL = server.adminUrl;
  console.log('tests use a throwaway embedded PostgreSQL');
  stop = () => server.stop();
} else {
  console.log(`tests use the PostgreSQL at DATABASE_URL (${new URL(env.DATABASE_URL).host})`);
}

const ava = spawn(
  process.execPath,
  [path.join('node_modules', 'ava', 'entrypoints', 'cli.mjs'), ...process.argv.slice(2)],
  {
    env,
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => ava.kill(signal));
const code = await new Promise<number>((resolve) => ava.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await stop();
process.exit(code);
