import test from 'ava';
import { useTestDatabase } from './helpers/db.ts';
import { makeUser } from './helpers/factories.ts';
import { cliEnv, startServe } from './helpers/process.ts';
import { smtpEnv, startSmtpSink } from './helpers/smtp.ts';

const tdb = useTestDatabase('shutdown');

const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)),
  ]);

test.serial('SIGTERM stops intake, finishes the row in hand and exits 0', async (t) => {
  const smtp = await startSmtpSink(() => false, 1500);
  t.teardown(() => smtp.close());
  const user = await makeUser(tdb.db);
  const service = await startServe(
    [],
    cliEnv(tdb.url, {
      ...smtpEnv(smtp),
    }),
  );
  t.teardown(() => service.child.kill('SIGKILL'));

  const res = await fetch(`http://127.0.0.1:${service.port}/user/pwd_reset_token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email }),
  });
  t.is(res.status, 200);
  // Wait until the dispatcher is in the middle of the (slow) send, then ask it to stop.
  while (smtp.attempts === 0) await new Promise((r) => setTimeout(r, 20));
  service.child.kill('SIGTERM');

  const code = await within(8000, service.exited);
  t.is(code, 0, service.output());
  t.is(smtp.messages.length, 1);
  const row = await tdb.db('outbox').first();
  t.is(row.status, 'sent');
  t.regex(service.output(), /"msg":"stopped"/);
  await t.throwsAsync(fetch(`http://127.0.0.1:${service.port}/user/`));
});

test.serial('SIGINT on an idle service exits 0 quickly', async (t) => {
  const service = await startServe(['--api'], cliEnv(tdb.url));
  t.teardown(() => service.child.kill('SIGKILL'));
  service.child.kill('SIGINT');
  t.is(await within(5000, service.exited), 0, service.output());
});

test.serial('a bad setting stops the start with one line per problem', async (t) => {
  const service = startServe(
    [],
    cliEnv(tdb.url, { DUNDIE_EMAIL__SMTP_PORT: 'many', DUNDIE_SECURITY__ALGORITHM: 'none' }),
  );
  const err: Error = await t.throwsAsync(service);
  t.regex(err.message, /exited \(1\)/);
  t.regex(err.message, /dundie: DUNDIE_EMAIL__SMTP_PORT must be a whole number/);
  t.regex(err.message, /dundie: DUNDIE_SECURITY__ALGORITHM must be one of HS256, HS384, HS512/);
});
