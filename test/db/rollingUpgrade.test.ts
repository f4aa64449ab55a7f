/**
 * A rolling deploy: the previous release's API and dispatcher (from git, in a temp dir) are
 * running when this release migrates the database. The old dispatcher keeps sending rows this
 * release writes, and this release's dispatcher sends rows the old API wrote. The previous
 * release is the one before the newest migration.
 */
import test from 'ava';
import { execFileSync, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import pg from 'pg';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { createDb } from '../../src/db/database.ts';
import { migrateLatest } from '../../src/db/migrations.ts';
import { testConfig } from '../helpers/config.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';
import { cliEnv, startServe, type ServiceProcess } from '../helpers/process.ts';
import { waitUntil } from '../helpers/wait.ts';

const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim();
const tryGit = (...args: string[]) => {
  try {
    return git(...args);
  } catch {
    return undefined;
  }
};

/**
 * The parent of the newest commit that added a migration (a commit that only mended one is not a
 * release boundary), or why there is none to test against.
 */
function previousRelease(): { commit: string } | { missing: string } {
  if (tryGit('rev-parse', '--is-inside-work-tree') !== 'true')
    return { missing: 'not a git checkout: this test runs the previous release out of the git history' };
  if (git('rev-parse', '--is-shallow-repository') === 'true')
    return { missing: 'a shallow clone has no previous release: run `git fetch --unshallow` first' };
  const newest = git('log', '-1', '--diff-filter=A', '--format=%H', '--', 'migrations');
  const parent = newest && tryGit('rev-parse', '--verify', '--quiet', `${newest}^`);
  if (!parent) return { missing: `no commit before the newest migration's (${newest || 'none'}) in this clone` };
  return { commit: parent };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

test('the previous release keeps working against the new schema, and this one reads what it wrote', async (t) => {
  t.timeout(180_000);
  const previous = previousRelease();
  if ('missing' in previous) return t.fail(previous.missing);
  const dir = mkdtempSync(path.join(tmpdir(), 'dundie-previous-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execSync(`git archive ${previous.commit} | tar -x -C ${JSON.stringify(dir)}`);
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  t.log(`previous release: ${previous.commit.slice(0, 7)}`);

  const name = `dundie_test_rolling_${process.pid}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${name}`;
  // Connects only when first used, after the previous release made the schema.
  const db = createDb(url.toString());
  const old: ServiceProcess[] = [];
  t.teardown(async () => {
    for (const p of old) p.child.kill('SIGKILL');
    await db.destroy();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  // The previous release, running: it made the schema as it knows it.
  const oldLog = path.join(dir, 'email.log');
  const env = cliEnv(url.toString(), {
    DUNDIE_EMAIL__DEBUG_MODE: 'true',
    DUNDIE_EMAIL__LOG_FILE: oldLog,
    DUNDIE_SECURITY__SECRET_KEY: randomBytes(24).toString('base64url'),
    DUNDIE_DISPATCHER__CRON: '* * * * * *',
  });
  old.push(await startServe(['--api'], env, { cwd: dir }));
  old.push(await startServe(['--dispatcher'], env, { cwd: dir }));
  const [oldApi, oldDispatcher] = old as [ServiceProcess, ServiceProcess];

  // This release migrates under it.
  t.true((await migrateLatest(db)).length > 0, 'this release has migrations the previous one does not');
  const config = testConfig(url.toString());
  const [written, byOld] = [await makeUser(db), await makeUser(db)];

  await requestPwdReset(db, config, written.email);
  await waitUntil(
    async () => (await db('outbox').where({ status: 'sent' }).count({ n: '*' }))[0]!.n === '1',
    'the old dispatcher to send it',
    15_000,
  );
  const oldEmails = (await readEmailLog({ ...config, email: { ...config.email, log_file: oldLog } })).map((e) => e.to);
  t.true(
    oldEmails.some((to) => to.includes(written.email)),
    'the old dispatcher sent the row this release wrote',
  );

  oldDispatcher.child.kill('SIGTERM');
  await oldDispatcher.exited;
  const res = await fetch(`http://127.0.0.1:${oldApi.port}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: byOld.email }),
  });
  t.is(res.status, 200);
  const row = await db('outbox').whereRaw("payload->>'email' = ?", [byOld.email]).first();
  t.like(row, { status: 'pending', payload_version: 1 });
  t.is((await dispatch(db, config)).sent, 1, "this release's dispatcher sent the row the old API wrote");
  t.true((await readEmailLog(config)).some((e) => e.to.includes(byOld.email)));
});
