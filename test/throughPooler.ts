/**
 * `npm run test:pooler -- [ava args]`: the tests named through PgBouncer in transaction mode,
 * started here in front of the server DATABASE_URL names (Debian's `pgbouncer`): every query of
 * the service and of the tests' own pools goes through it, LISTEN goes to the server itself
 * (as DUNDIE_DATABASE__LISTEN_URL would in production).
 */
import { spawn } from 'node:child_process';
import process from 'node:process';
import { startPgbouncer, targetOf } from './helpers/pgbouncer.ts';

const direct = process.env.DATABASE_URL;
if (!direct) throw new Error('test:pooler needs DATABASE_URL: the server PgBouncer is to stand in front of');
const pgbouncer = await startPgbouncer(targetOf(direct));
console.log(`tests go through PgBouncer (transaction mode) on port ${pgbouncer.port}`);
const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', ...process.argv.slice(2)], {
  env: {
    ...process.env,
    DATABASE_URL: pgbouncer.url(new URL(direct).pathname.slice(1)),
    DUNDIE_TEST_LISTEN_URL: direct,
  },
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await pgbouncer.stop();
process.exit(code);
