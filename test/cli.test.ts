import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useTestDatabase } from './helpers/db.ts';
import { cliEnv, runCli } from './helpers/process.ts';

const tdb = useTestDatabase('cli');
let env: Record<string, string>;
let emailLog: string;
test.before(async () => {
  emailLog = path.join(mkdtempSync(path.join(tmpdir(), 'dundie-cli-')), 'email.log');
  env = cliEnv(tdb.url, { DUNDIE_EMAIL__LOG_FILE: emailLog });
});

test.serial('create-user, then user-list shows the user', async (t) => {
  const created = await runCli(
    [
      'create-user',
      '--name',
      'Michael Scott',
      '--email',
      'mscott@dm.com',
      '--password',
      'worlds-best-boss',
      '--dept',
      'management',
    ],
    env,
  );
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /created user michael-scott/);
  const list = await runCli(['user-list'], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^username\s+name\s+email\s+dept\s+currency$/m);
  t.regex(list.stdout, /michael-scott\s+Michael Scott\s+mscott@dm\.com\s+management\s+USD/);
});

test.serial('create-user refuses a taken username in one line, non-zero', async (t) => {
  const again = await runCli(
    [
      'create-user',
      '--name',
      'Michael Scott',
      '--email',
      'other@dm.com',
      '--password',
      'worlds-best-boss',
      '--dept',
      'sales',
    ],
    env,
  );
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

test.serial('outbox: summary, list by status, retry one row and every dead row', async (t) => {
  await tdb.db('outbox').del();
  const [dead1, dead2] = await tdb
    .db('outbox')
    .insert([
      {
        kind: 'pwd_reset_email',
        payload: { email: 'd1@dm.com' },
        status: 'dead',
        attempts: 8,
        last_error: 'Error: 550 no such mailbox',
      },
      {
        kind: 'pwd_reset_email',
        payload: { email: 'd2@dm.com' },
        status: 'dead',
        attempts: 8,
        last_error: 'Error: 451 try later',
      },
      { kind: 'pwd_reset_email', payload: { email: 'p@dm.com' }, status: 'pending' },
    ])
    .returning('id');
  const summary = await runCli(['outbox'], env);
  t.is(summary.code, 0, summary.stderr);
  t.regex(summary.stdout, /^status\s+count\s+oldest_created_at\s+next_run_after$/m);
  t.regex(summary.stdout, /^dead\s+2\s/m);
  t.regex(summary.stdout, /^pending\s+1\s/m);

  const list = await runCli(['outbox', 'list', '--status', 'dead'], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /d1@dm\.com.*550 no such mailbox/);

  const one = await runCli(['outbox', 'retry', String(dead1.id)], env);
  t.is(one.stdout.trim(), '1 row back in line');
  t.like(await tdb.db('outbox').where({ id: dead1.id }).first(), { status: 'pending', attempts: 0 });
  const all = await runCli(['outbox', 'retry', '--dead'], env);
  t.is(all.stdout.trim(), '1 row back in line');
  t.like(await tdb.db('outbox').where({ id: dead2.id }).first(), {
    status: 'pending',
    attempts: 0,
    last_error: 'Error: 451 try later',
  });

  const missing = await runCli(['outbox', 'retry', '999999'], env);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /row 999999 is not dead/);
  const bad = await runCli(['outbox', 'list'], env);
  t.is(bad.code, 2);
});
