import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { cliEnv, runCli } from './helpers/process.ts';

let tdb: TestDatabase;
let env: Record<string, string>;
let emailLog: string;
test.before(async () => {
  tdb = await createTestDatabase('cli');
  emailLog = path.join(mkdtempSync(path.join(tmpdir(), 'dundie-cli-')), 'email.log');
  env = cliEnv(tdb.url, { DUNDIE_EMAIL__LOG_FILE: emailLog });
});
test.after.always(async () => {
  await tdb?.drop();
});

test.serial('create-user, then user-list shows the user', async (t) => {
  const created = await runCli(['create-user', '--name', 'Michael Scott', '--email', 'mscott@dm.com', '--password', 'worlds-best-boss', '--dept', 'management'], env);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /created user michael-scott/);
  const list = await runCli(['user-list'], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^username\s+name\s+email\s+dept\s+currency$/m);
  t.regex(list.stdout, /michael-scott\s+Michael Scott\s+mscott@dm\.com\s+management\s+USD/);
});

test.serial('create-user refuses a taken username in one line, non-zero', async (t) => {
  const again = await runCli(['create-user', '--name', 'Michael Scott', '--email', 'other@dm.com', '--password', 'worlds-best-boss', '--dept', 'sales'], env);
  t.is(again.code, 1);
  t.is(again.stderr.trim(), 'dundie: Username already taken');
});

test.serial('create-user with a missing option says which', async (t) => {
  const res = await runCli(['create-user', '--name', 'Toby Flenderson', '--email', 'toby@dm.com', '--dept', 'hr'], env);
  t.is(res.code, 1);
  t.regex(res.stderr, /body\.password: Field required/);
});

test.serial('dispatch --once works the outbox and exits', async (t) => {
  await tdb.db('outbox').insert([
    { kind: 'pwd_reset_email', payload: { email: 'MSCOTT@dm.com' } },
    { kind: 'pwd_reset_email', payload: { email: 'nobody@dm.com' } },
  ]);
  const res = await runCli(['dispatch', '--once'], env);
  t.is(res.code, 0, res.stderr);
  t.is(res.stdout.trim(), 'claimed 2: 1 sent, 1 skipped, 0 failed');
  t.regex(readFileSync(emailLog, 'utf8'), /--- START EMAIL mscott@dm\.com ---/);
});

test.serial('shell has settings, db, the user functions and tryToSendPwdResetEmail in scope', async (t) => {
  const script = [
    'settings.security.ALGORITHM',
    '(await listUsers()).length',
    "(await tryToSendPwdResetEmail('mscott@dm.com')).sent",
    "(await db('users').count({ n: '*' }))[0].n",
    '',
  ].join('\n');
  const res = await runCli(['shell'], env, script);
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /'HS256'/);
  t.regex(res.stdout, /\btrue\b/);
  t.regex(res.stdout, /In scope: settings, db,.*tryToSendPwdResetEmail/);
  t.is(readFileSync(emailLog, 'utf8').match(/START EMAIL/g)?.length, 2);
});

test.serial('migrate succeeds on an up-to-date database', async (t) => {
  const res = await runCli(['migrate'], env);
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /up to date/);
});

test('an unknown command or option fails with usage, non-zero', async (t) => {
  const unknown = await runCli(['frobnicate'], env);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command "frobnicate"/);
  const badOption = await runCli(['user-list', '--colour'], env);
  t.is(badOption.code, 2);
  t.regex(badOption.stderr, /dundie: Unknown option '--colour'/);
  const noOnce = await runCli(['dispatch'], env);
  t.is(noOnce.code, 2);
});
