import test from 'ava';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUsers } from '../helpers/factories.ts';
import { dispatch } from '../helpers/flow.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('task_pwd_reset', { clean: ['outbox', 'pwd_reset_throttle'] });

test.serial('an address past the index limit fails alone; its batch-mates are sent', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, smtpEnv(smtp));
  const users = await makeUsers(tdb.db, 4);
  for (const u of users.slice(0, 2)) await requestPwdReset(tdb.db, config, u.email);
  // Queued by SQL, as the API would refuse it: its throttle key, random and so incompressible, is
  // too large for the index (54000).
  const [long] = await tdb
    .db('outbox')
    .insert({
      kind: 'pwd_reset_email',
      payload: { email: `${randomBytes(2300).toString('base64url')}@dm.com` },
      max_attempts: 8,
    })
    .returning('id');
  for (const u of users.slice(2)) await requestPwdReset(tdb.db, config, u.email);

  const result = await dispatch(tdb.db, config);
  t.like(result, { sent: 4, failed: 1 });
  t.is(smtp.recipients.length, 4);
  // The same address would fail the same way every time: given up at once, saying why.
  const row = await tdb.db('outbox').where({ id: long!.id }).first();
  t.is(row.status, 'dead');
  t.regex(row.last_error, /^the address cannot be used: index row .*exceeds/);
});

test.serial('a user row another transaction holds delays that row alone; the others are sent', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(() => smtp.close());
  const config = testConfig(tdb.url, { ...smtpEnv(smtp), DUNDIE_DATABASE__TIMEOUT_SECONDS: '1' });
  // Enough rows that the held one shares its statement with others (two are written at once, the
  // rest wait and go together).
  const users = await makeUsers(tdb.db, 10);
  for (const u of users) await requestPwdReset(tdb.db, config, u.email);
  // An operator's transaction holding one user's row for longer than a statement may run.
  const holder = new pg.Client({ connectionString: tdb.url });
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [users[5]!.id]);

  const result = await dispatch(tdb.db, config);
  await holder.query('ROLLBACK');
  t.like(result, { sent: 9, failed: 1 });
  t.deepEqual(
    [...smtp.recipients].sort(),
    users
      .filter((_, i) => i !== 5)
      .map((u) => u.email)
      .sort(),
  );
  const held = await tdb
    .db('outbox')
    .where('payload', '@>', JSON.stringify({ email: users[5]!.email }))
    .first();
  t.is(held.status, 'pending', 'tried again later, like any failure');
});
