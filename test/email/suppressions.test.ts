import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { countSuppressions } from '../../src/email/suppressions.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch } from '../helpers/flow.ts';
import { cliEnv, runCli } from '../helpers/process.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('email_suppressions', { clean: ['outbox', 'pwd_reset_throttle', 'email_suppressions'] });

test.serial('a recipient refused for good is not mailed again until an operator removes it', async (t) => {
  // 550 to the first message (the recipient's mailbox does not exist), then accepting.
  const smtp = await startSmtpSink((n) => (n === 1 ? 550 : false));
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '0' });
  const user = await makeUser(tdb.db);

  const refused = await requestPwdReset(tdb.db, config, user.email);
  t.like(await dispatch(tdb.db, config), { failed: 1 });
  t.like(await tdb.db('outbox').where({ id: refused }).first(), { status: 'dead' });
  const [entry] = await tdb.db('email_suppressions');
  t.like(entry, { address: user.email.toLowerCase(), refusals: 1 });
  t.regex(entry.reason, /550/);

  const later = await requestPwdReset(tdb.db, config, user.email.toUpperCase());
  t.like(await dispatch(tdb.db, config), { skipped: 1 });
  t.like(await tdb.db('outbox').where({ id: later }).first(), { status: 'skipped', last_error: 'suppressed' });
  t.is(smtp.attempts, 1, 'no second message offered');

  const env = cliEnv(tdb.url);
  const list = await runCli(['suppressions', 'list'], env);
  t.is(list.code, 0);
  t.true(list.stdout.includes(user.email.toLowerCase()));
  const removed = await runCli(['suppressions', 'remove', user.email], env);
  t.is(removed.code, 0, removed.stderr);
  t.is(await countSuppressions(tdb.db), 0);
  t.is((await runCli(['suppressions', 'remove', user.email], env)).code, 1, 'not on the list any more');

  await requestPwdReset(tdb.db, config, user.email);
  t.like(await dispatch(tdb.db, config), { sent: 1 });
  await smtp.waitFor(1);
});

test.serial('a temporary refusal suppresses nothing', async (t) => {
  const smtp = await startSmtpSink((n) => (n === 1 ? 451 : false));
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, smtpEnv(smtp));
  const user = await makeUser(tdb.db);
  await requestPwdReset(tdb.db, config, user.email);
  t.like(await dispatch(tdb.db, config), { failed: 1 });
  t.is(await countSuppressions(tdb.db), 0);
});
