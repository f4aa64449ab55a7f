/**
 * During a rolling deploy old and new releases share the outbox: a dispatcher claims only the
 * kinds and payload versions its tasks read and leaves the rest, untouched, for one that reads
 * them; a payload its task cannot read is dead at once, saying why.
 */
import test from 'ava';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { claimDue, enqueue } from '../../src/outbox/queries.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';

const tdb = useTestDatabase('payload_versions', { clean: ['outbox'] });

const row = (id: string) => tdb.db('outbox').where({ id }).first();
const untouched = { status: 'pending', attempts: 0, last_error: null, locked_by: null, locked_until: null };

test.serial('a row of a kind this release does not know waits, untouched, for a dispatcher that does', async (t) => {
  const config = testConfig(tdb.url);
  const id = await enqueue(tdb.db, { kind: 'sms_code', payload: { phone: '+5511' }, maxAttempts: 8 });
  const result = await dispatch(tdb.db, config);
  t.is(result.claimed, 0);
  t.like(await row(id), untouched);
});

test.serial('a row of a newer payload version waits; the version this release reads is sent', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  const newer = await enqueue(tdb.db, {
    kind: 'pwd_reset_email',
    payload: { address: { email: user.email } },
    payloadVersion: 9, // one no release reads yet (2 is the cooldown override)
    maxAttempts: 8,
  });
  const current = await requestPwdReset(tdb.db, config, user.email);
  t.is((await dispatch(tdb.db, config)).sent, 1);
  t.like(await row(current), { status: 'sent', payload_version: 1 });
  t.like(await row(newer), { ...untouched, payload_version: 9 });
  t.is((await readEmailLog(config)).length, 1);
});

test.serial('the claim takes exactly the kinds and versions its caller reads, whatever they are', async (t) => {
  const ids = Object.fromEntries(
    await Promise.all(
      (['a@1', 'a@2', 'a@3', 'b@1', 'c@2'] as const).map(async (name) => {
        const [kind, version] = name.split('@') as [string, string];
        const payload = { name };
        return [name, await enqueue(tdb.db, { kind, payload, payloadVersion: Number(version), maxAttempts: 8 })];
      }),
    ),
  ) as Record<string, string>;
  const known = [
    { kind: 'a', payloadVersion: 1 },
    { kind: 'a', payloadVersion: 3 },
    { kind: 'c', payloadVersion: 2 },
  ];
  const claimed = await claimDue(tdb.db, 'reader', 10, 30, { known });
  t.deepEqual(claimed.map((r) => r.payload.name).sort(), ['a@1', 'a@3', 'c@2']);
  for (const name of ['a@2', 'b@1']) t.like(await row(ids[name]!), untouched, name);
  t.is(
    (await claimDue(tdb.db, 'nothing', 10, 30, { known: [] })).length,
    0,
    'a caller that reads nothing claims nothing',
  );
});

test.serial('a payload its task cannot read is dead at once, and last_error says what is wrong', async (t) => {
  const config = testConfig(tdb.url);
  const empty = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: {}, maxAttempts: 8 });
  const numeric = await enqueue(tdb.db, { kind: 'pwd_reset_email', payload: { email: 42 }, maxAttempts: 8 });
  const notice = await enqueue(tdb.db, { kind: 'pwd_changed_email', payload: { email: 'a@dm.com' }, maxAttempts: 8 });
  const result = await dispatch(tdb.db, config);
  t.is(result.failed, 3);
  t.is((await readEmailLog(config)).length, 0);
  t.like(await row(empty), { status: 'dead', attempts: 1 });
  t.regex((await row(empty)).last_error, /^unreadable payload: email: .*expected string, received undefined$/);
  t.like(await row(numeric), { status: 'dead', attempts: 1 });
  t.regex((await row(numeric)).last_error, /^unreadable payload: email: .*expected string, received number$/);
  t.like(await row(notice), { status: 'dead', attempts: 1 });
  t.regex((await row(notice)).last_error, /^unreadable payload: username: /);
});

test.serial('a password-changed notice saying a "how" this release does not know is sent without it', async (t) => {
  const config = testConfig(tdb.url);
  const user = await makeUser(tdb.db);
  await enqueue(tdb.db, {
    kind: 'pwd_changed_email',
    payload: { email: user.email, username: user.username, changed_at: new Date().toISOString(), how: 'sso' },
    maxAttempts: 8,
  });
  t.like(await dispatch(tdb.db, config), { sent: 1 });
  const mail = (await readEmailLog(config)).filter((m) => m.to === user.email).at(-1);
  t.truthy(mail);
});
