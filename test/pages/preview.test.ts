/** `dundie preview` (issue 12): any e-mail or page with sample data, for whoever edits templates. */
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/process.ts';

const env = (dir: string) => ({
  PATH: process.env.PATH ?? '',
  HOME: dir,
  DUNDIE_DATA_DIR: dir,
  DUNDIE_SECURITY__SECRET_KEY: 'preview-test-secret',
});

test('an e-mail in Portuguese, text and HTML, on stdout', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dundie-preview-'));
  const { code, stdout } = await runCli(['preview', 'pwd_reset_email', '--locale', 'pt-BR'], env(dir));
  t.is(code, 0);
  t.regex(
    stdout,
    /^--- text: templates\/pt-BR\/pwd_reset_email.liquid ---\nFrom: Dundie <no-reply@dm.com>\nTo: mscott@dm.com\nSubject: Redefinição de senha do Dundie\n/,
  );
  t.regex(stdout, /--- html: templates\/pt-BR\/pwd_reset_email.html.liquid ---\n<!DOCTYPE html>/);
});

test('a page to a file, and an unknown name is a usage error', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dundie-preview-'));
  const out = path.join(dir, 'choose.html');
  t.is((await runCli(['preview', 'pages/choose', '--out', out], env(dir))).code, 0);
  t.regex(readFileSync(out, 'utf8'), /<h1>Choose a new password for michael-scott<\/h1>/);
  const wrong = await runCli(['preview', 'nope'], env(dir));
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /preview takes one of: pwd_reset_email, pwd_changed_email, pages\/request/);
});
