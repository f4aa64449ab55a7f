import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createPwdResetToken } from '../../src/auth/tokens.ts';
import { redactUrl } from '../../src/log.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { createEmailDispatcher } from '../../src/tasks/emailDispatcher.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('logging');
let api: Api;
let config: ReturnType<typeof testConfig>;
/** A JSON logger whose lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

const lines: Record<string, unknown>[] = [];
test.before(async () => {
  config = testConfig(tdb.url);
  api = await startApi(config, { api: true, dispatcher: false }, capturingLogger(lines));
  tdb.teardown(() => api.service.stop());
});

test.serial('every request is logged with an id that is also sent back as X-Request-Id', async (t) => {
  const res = await api.request('GET', '/user/');
  const id = res.headers.get('x-request-id');
  t.regex(id ?? '', /^[0-9a-f]{32}$/);
  const line = lines.find((l) => l.requestId === id && l.msg === 'request');
  t.like(line, { method: 'GET', url: '/user/', status: 200 });
  const given = await api.request('GET', '/health', { headers: { 'X-Request-Id': 'client-chosen-id.42' } });
  t.is(given.headers.get('x-request-id'), 'client-chosen-id.42');
  const junk = await api.request('GET', '/health', { headers: { 'X-Request-Id': 'bad id with spaces' } });
  t.not(junk.headers.get('x-request-id'), 'bad id with spaces');
});

test.serial('the ids the server makes are random, not a count', async (t) => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await api.request('GET', '/health')).headers.get('x-request-id') ?? '');
  for (const id of ids) t.regex(id, /^[0-9a-f]{32}$/);
  t.is(new Set(ids).size, ids.length);
  // A counter's consecutive values share their leading digits; random ones share 8 once in 4 billion.
  const sharedLead = (a: string, b: string) => [...a].findIndex((c, i) => c !== b[i]);
  for (let i = 1; i < ids.length; i++) t.true(sharedLead(ids[i - 1]!, ids[i]!) < 8, `${ids[i - 1]} then ${ids[i]}`);
});

test.serial('a reset token in a URL never reaches the log', async (t) => {
  const user = await makeUser(tdb.db);
  const token = createPwdResetToken(config.security, user);
  const res = await api.request('POST', `/user/${user.username}/password/?pwd_reset_token=${token}`, {
    json: { password: 'logged-nowhere-1', password_confirm: 'logged-nowhere-1' },
  });
  t.is(res.status, 200);
  const all = JSON.stringify(lines);
  t.false(all.includes(token));
  t.false(all.includes(token.split('.')[2]!), 'not even the signature');
  t.true(all.includes('pwd_reset_token=REDACTED'));
});

test('redactUrl keeps other parameters', (t) => {
  t.is(redactUrl('/a?x=1&pwd_reset_token=abc&y=2'), '/a?x=1&pwd_reset_token=REDACTED&y=2');
  t.is(redactUrl('/plain'), '/plain');
});

test.serial('the dispatcher logs each row outcome with the row id, never the token', async (t) => {
  const user = await makeUser(tdb.db);
  await tdb.db('outbox').insert({ kind: 'pwd_reset_email', payload: { email: user.email } });
  const logLines: Record<string, unknown>[] = [];
  await createEmailDispatcher({ db: tdb.db, config, log: capturingLogger(logLines) }, { continuous: false }).done;
  const sent = logLines.find((l) => l.msg === 'sent');
  t.truthy(sent?.outboxId);
  // Rows left by earlier tests go out in the same run, in no set order: take this user's link.
  const mail = (await readEmailLog(config))
    .filter((m) => m.to === user.email && m.message.includes('pwd_reset_token='))
    .at(-1)!;
  t.false(JSON.stringify(logLines).includes(tokenFromText(mail.message)));
});
