/** Retry policy, pure parts (on real PostgreSQL and SMTP: test/outbox/retries.test.ts): backoff with full jitter, which SMTP failures are final, settings. */
import test from 'ava';
import { loadConfig } from '../../../src/config.ts';
import { permanentRefusal } from '../../../src/email/refusals.ts';
import { backoffCeilingSeconds, backoffSeconds } from '../../../src/delays.ts';

const settings = { BACKOFF_BASE_SECONDS: 5, BACKOFF_MAX_SECONDS: 3600 };

test('backoff ceilings grow exponentially and are capped', (t) => {
  t.deepEqual(
    [1, 2, 3, 4].map((a) => backoffCeilingSeconds(settings, a)),
    [5, 10, 20, 40],
  );
  t.is(backoffCeilingSeconds(settings, 30), 3600);
});

test('full jitter: rows that failed together spread over the whole window instead of coming back in a wave', (t) => {
  // 300 rows failing their 6th try together (the probe's synchronised waves).
  const delays = Array.from({ length: 300 }, () => backoffSeconds(settings, 6));
  const ceiling = backoffCeilingSeconds(settings, 6);
  t.true(delays.every((d) => d >= 1 && d <= ceiling));
  const buckets = Array.from(
    { length: 10 },
    (_, i) => delays.filter((d) => d >= (ceiling * i) / 10 && d < (ceiling * (i + 1)) / 10).length,
  );
  t.true(Math.max(...buckets) < 60, `no tenth of the window gets more than a fifth of the rows: ${buckets}`);
  t.true(new Set(delays.map(Math.round)).size > 50, 'many distinct delays');
});

test('backoff never retries sooner than a second', (t) => {
  t.is(
    backoffSeconds(settings, 1, () => 0),
    1,
  );
  t.is(
    backoffSeconds(settings, 1, () => 0.999999),
    5 * 0.999999,
  );
});

const smtpError = (responseCode: number, command: string, response = `${responseCode} test`) =>
  Object.assign(new Error(`Message failed: ${response}`), {
    code: command === 'DATA' ? 'EMESSAGE' : 'EENVELOPE',
    responseCode,
    command,
    response,
  });

test('a 5xx refusal of the recipient or the message is final, with the reply kept', (t) => {
  t.regex(permanentRefusal(smtpError(550, 'RCPT TO', '550 5.1.1 no such mailbox'))!, /550 5\.1\.1 no such mailbox/);
  t.truthy(permanentRefusal(smtpError(554, 'DATA')));
  t.truthy(permanentRefusal(Object.assign(new Error('Invalid recipient "x"'), { code: 'EENVELOPE', command: 'API' })));
});

test('4xx replies, connection trouble and refusals of every message (AUTH, greeting, MAIL FROM) pass', (t) => {
  t.is(permanentRefusal(smtpError(451, 'DATA')), undefined);
  t.is(permanentRefusal(smtpError(450, 'RCPT TO')), undefined);
  t.is(permanentRefusal(smtpError(535, 'AUTH PLAIN')), undefined);
  t.is(permanentRefusal(smtpError(554, 'CONN')), undefined);
  t.is(permanentRefusal(smtpError(550, 'MAIL FROM')), undefined);
  t.is(permanentRefusal(smtpError(503, 'RCPT TO')), undefined, '503 is a bad command sequence, not a refusal');
  t.is(
    permanentRefusal(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNECTION', command: 'CONN' })),
    undefined,
  );
});

const env = {
  DATABASE_URL: 'postgres://x@localhost/x',
  DUNDIE_SECURITY__SECRET_KEY: 'k',
  DUNDIE_DATA_DIR: '/tmp/dundie-unit',
};

test('GIVE_UP_AFTER defaults to a day and reads durations; the lease defaults to 30 s', (t) => {
  const config = loadConfig(env);
  t.is(config.dispatcher.GIVE_UP_AFTER, 86_400);
  t.is(config.dispatcher.LEASE_SECONDS, 30);
  t.is(loadConfig({ ...env, DUNDIE_DISPATCHER__GIVE_UP_AFTER: '90m' }).dispatcher.GIVE_UP_AFTER, 5400);
  t.is(loadConfig({ ...env, DUNDIE_DISPATCHER__GIVE_UP_AFTER: '3d' }).dispatcher.GIVE_UP_AFTER, 259_200);
  t.is(loadConfig({ ...env, DUNDIE_DISPATCHER__GIVE_UP_AFTER: '45' }).dispatcher.GIVE_UP_AFTER, 45);
  t.throws(() => loadConfig({ ...env, DUNDIE_DISPATCHER__GIVE_UP_AFTER: 'a day' }), {
    message: /GIVE_UP_AFTER must be a duration/,
  });
});
