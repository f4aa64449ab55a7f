/**
 * During a rolling deploy old and new releases share the outbox: a dispatcher claims only the
 * kinds and payload versions its tasks read and leaves the rest, untouched, for one that reads
 * them; a payload no release could read is dead at once, saying why.
 */
import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { enqueue } from '../../src/outbox/queries.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';

const tdb = useTestDatabase('payload_versions', { clean: ['outbox'] });

const row = (id: string) => tdb.db('outbox').where({ id }).first();

test.serial('a row of a kind this release does not know waits, untouched, for a dispatcher that does', async (t) => {
  const config = testConfig(tdb.url);
  const id = await enqueue(tdb.db, { kind: 'sms_code', payload: { phone: '+5511' }, maxAttempts: 8 });
  const result = await dispatch(tdb.db, config);
  t.is(result.claimed, 0);
  t.like(await row(id), { status: 'pending', attempts: 0, last_error: null, locked_by: null });
});

test.serial('a row of a newer payload version waits; the version this release reads is sent', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  const newer = await enqueue(tdb.db, {
    kind: 'pwd_reset_email',
    payload: { address: { email: user.email } },
    payloadVersion: 2,
    maxAttempts: 8,
  });
  const current = await requestPwdReset(tdb.db, config, user.email);
  t.is((await dispatch(tdb.db, config)).sent, 1);
  t.like(await row(current), { status: 'sent', payload_version: 1 });
  t.like(await row(newer), { status: 'pending', attempts: 0, last_error: null });
  t.is((await readEmailLog(config)).length, 1);
});

test.serial('a payload its task cannot read is dead at once, and last_error says what is wrong', async (t) => {
  const config = testConfig(tdb.url);
  const empty = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: {}, maxAttempts: 8 });
  const numeric = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email: 42 }, maxAttempts: 8 });
  const notice = await enqueue(tdb.db, { kind: 'pwd_changed_email', payload: { email: 'a@dm.com' }, maxAttempts: 8 });
  const result = await dispatch(tdb.db, config);
  t.is(result.failed, 3);
  t.like(await row(empty), { status: 'dead', attempts: 1 });
  t.regex((await row(empty)).last_error, /^unreadable payload: email: .*expected string/);
  t.regex((await row(numeric)).last_error, /^unreadable payload: email: .*expected string, received number/);
  t.regex((await row(notice)).last_error, /^unreadable payload: username: /);
});
