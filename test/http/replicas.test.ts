/**
 * Several API replicas and dispatchers on one database hold the same limits as one: a client
 * spread over four API replicas gets exactly the 200s it gets from one, and two dispatchers
 * mailing one address keep its cooldown between them.
 */
import test from 'ava';
import { createLogger } from '../../src/log.ts';
import { SUPERSEDED } from '../../src/tasks/pwdResetEmail.ts';
import { createEmailDispatcher } from '../../src/tasks/emailDispatcher.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUsers } from '../helpers/factories.ts';
import { startApi, type Api } from '../helpers/service.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';
import { waitUntil } from '../helpers/wait.ts';

const tdb = useTestDatabase('replicas', { clean: ['outbox', 'rate_limiter'] });

async function replicas(count: number, env: Record<string, string>): Promise<Api[]> {
  const apis = await Promise.all(Array.from({ length: count }, () => startApi(testConfig(tdb.url, env))));
  tdb.teardown(() => Promise.all(apis.map((a) => a.service.stop())));
  return apis;
}

/** 40 reset requests from one client, in parallel, round robin over `apis`; how many were answered 200. */
async function okAnswers(apis: Api[]): Promise<number> {
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      apis[i % apis.length]!.request('POST', '/user/pwd_reset_token/', { json: { email: `spread-${i}@dm.com` } }),
    ),
  );
  return answers.filter((a) => a.status === 200).length;
}

test.serial('a client spread over four API replicas gets the same number of 200s as against one', async (t) => {
  const limited = { DUNDIE_SECURITY__RATE_LIMIT_PWD_RESET_PER_MINUTE: '5' };
  const [one] = await replicas(1, limited);
  t.is(await okAnswers([one!]), 5);
  await tdb.db('rate_limiter').del();
  const four = await replicas(4, limited);
  t.is(await okAnswers(four), 5);
});

test.serial('two dispatchers mailing one address keep its cooldown between them: one e-mail', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const [user] = await makeUsers(tdb.db, 1);
  // Two rows a claim: both dispatchers hold rows for the address at the same time.
  const env = {
    ...smtpEnv(smtp),
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60',
    DUNDIE_DISPATCHER__BATCH_SIZE: '2',
  };
  const [a, b] = await replicas(2, env);
  // Queued first, so that both dispatchers find rows for the one address at once.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      [a, b][i % 2]!.request('POST', '/user/pwd_reset_token/', { json: { email: user!.email } }),
    ),
  );
  const dispatchers = [1, 2].map(() => {
    const config = testConfig(tdb.url, env);
    const dispatcher = createEmailDispatcher({ db: tdb.db, config, log: createLogger(config) });
    return () => dispatcher.stop();
  });
  t.teardown(() => Promise.all(dispatchers.map((stop) => stop())));
  await waitUntil(async () => {
    const [row] = await tdb.db('outbox').whereIn('status', ['pending', 'sending']).count({ n: '*' });
    return Number(row!.n) === 0;
  }, 'every row to be finished');
  const rows = await tdb.db('outbox').select('status', 'last_error');
  t.is(rows.filter((r) => r.status === 'sent').length, 1);
  // Within the cooldown, or older than the row that took the slot when the two raced for it.
  const held = ['throttled', SUPERSEDED];
  t.is(rows.filter((r) => r.status === 'skipped' && held.includes(r.last_error)).length, 19);
  t.is(smtp.recipients.length, 1);
});
