/**
 * PostgreSQL stopped and started again under the running service (API and dispatcher): while it is
 * down, requests get quick 503s; once it is back, 200s again, and every request answered 200 is
 * delivered. The test runs an embedded PostgreSQL of its own, never the shared one at DATABASE_URL.
 */
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startEmbeddedPostgres } from '../../src/db/embeddedPostgres.ts';
import { createDb } from '../../src/db/database.ts';
import { makeUsers } from '../helpers/factories.ts';
import { waitUntil } from '../helpers/wait.ts';
import { cliEnv, startServe } from '../helpers/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const until = (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) =>
  waitUntil(check, what, timeoutMs);

test.serial(
  'PostgreSQL stopped and started under the service: quick 503s, then 200s, every 200 delivered',
  async (t) => {
    t.timeout(120_000);
    const parent = mkdtempSync(path.join(tmpdir(), 'dundie-pg-restart-'));
    chmodSync(parent, 0o755);
    t.teardown(() => rmSync(parent, { recursive: true, force: true }));
    const log = pino({ level: 'warn' });
    const dir = path.join(parent, 'pg');
    let server = await startEmbeddedPostgres(dir, log);
    const port = Number(new URL(server.adminUrl).port);
    t.teardown(() => server.stop());

    const emailLog = path.join(parent, 'email.log');
    const url = new URL(server.adminUrl);
    const db = createDb(url.toString());
    t.teardown(() => db.destroy());
    const service = await startServe(
      [],
      cliEnv(url.toString(), {
        DUNDIE_EMAIL__LOG_FILE: emailLog,
        DUNDIE_DATABASE__TIMEOUT_SECONDS: '2',
        DUNDIE_DISPATCHER__CRON: '* * * * * *',
        // A claim whose answer was lost in the shutdown waits out its lease: keep that short here.
        DUNDIE_DISPATCHER__LEASE_SECONDS: '10',
      }),
    );
    t.teardown(() => service.child.kill('SIGKILL'));
    const users = await makeUsers(db, 5);

    const results: { status: number; ms: number; email: string }[] = [];
    let running = true;
    const load = (async () => {
      for (let i = 0; running; i++) {
        const email = users[i % users.length]!.email;
        const started = Date.now();
        const status = await fetch(`http://127.0.0.1:${service.port}/user/pwd_reset_token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
          signal: AbortSignal.timeout(10_000),
        }).then(
          (r) => r.status,
          () => 0,
        );
        results.push({ status, ms: Date.now() - started, email });
        await sleep(25);
      }
    })();

    await sleep(1000);
    await server.stop();
    const downAt = results.length;
    await sleep(3000);
    server = await startEmbeddedPostgres(dir, log, { port });
    const upAt = results.length;
    await until('200s again', () => results.slice(upAt).some((r) => r.status === 200), 30_000);
    await sleep(1000);
    running = false;
    await load;

    const during = results.slice(downAt, upAt);
    t.true(
      during.some((r) => r.status === 503),
      'the API answered 503 while PostgreSQL was down',
    );
    t.true(
      during.every((r) => r.status === 503 || r.status === 200),
      `only 200s and 503s: ${[...new Set(during.map((r) => r.status))]}`,
    );
    t.true(
      during.every((r) => r.ms < 5000),
      `quick answers (slowest ${Math.max(...during.map((r) => r.ms))} ms)`,
    );
    t.is(results.at(-1)!.status, 200);

    const ok = results.filter((r) => r.status === 200).length;
    await until(
      'every accepted request sent',
      async () => {
        const [row] = await db('outbox').where({ status: 'sent' }).count({ n: '*' });
        return Number(row?.n) >= ok;
      },
      30_000,
    ).catch(async (err) => {
      t.log(await db('outbox').select('status').count({ n: '*' }).groupBy('status'), ok, service.output().slice(-3000));
      throw err;
    });
    const rows = await db('outbox').select('status');
    t.true(rows.length >= ok, 'a row for every 200');
    t.true(
      rows.every((r) => r.status === 'sent'),
      'and every row sent',
    );
    const mails = (readFileSync(emailLog, 'utf8').match(/START EMAIL/g) ?? []).length;
    t.true(mails >= rows.length, 'an e-mail for every row');
    t.log(
      `${ok} accepted, ${during.filter((r) => r.status === 503).length} answered 503 during the outage, ${mails - rows.length} e-mails sent twice`,
    );
  },
);
