/**
 * The reset e-mail cooldown (`users/resetThrottle.ts`): one e-mail per address per cooldown, unknown
 * addresses too, and a cooldown that escalates against e-mail bombing and starts over after a
 * quiet day.
 */
import test from 'ava';
import { PWD_RESET_MESSAGE } from '../../src/commands/requestPwdReset.ts';
import { takeResetSlotsAndRenewNonces } from '../../src/users/resetThrottle.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('reset_cooldown', { clean: ['outbox', 'pwd_reset_throttle'] });

const json = (body: unknown) => ({ json: body });

test.serial('one reset e-mail per address per cooldown, unknown addresses too; extras end throttled', async (t) => {
  const config = testConfig(tdb.url, { DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '60' });
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  for (const email of [user.email, user.email.toUpperCase(), user.email, 'ghost@dm.com', 'ghost@dm.com']) {
    const res = await api.request('POST', '/user/pwd_reset_token/', json({ email }));
    t.is(res.status, 200);
    t.deepEqual(res.body, { message: PWD_RESET_MESSAGE });
  }
  await dispatch(tdb.db, config);
  const rows = await tdb.db('outbox').orderBy('id').select('status', 'last_error');
  t.deepEqual(rows, [
    { status: 'sent', last_error: null },
    { status: 'skipped', last_error: 'throttled' },
    { status: 'skipped', last_error: 'throttled' },
    { status: 'skipped', last_error: 'no user with this email' },
    { status: 'skipped', last_error: 'throttled' },
  ]);
  t.is((await readEmailLog(config)).filter((m) => m.to === user.email).length, 1);
});

test.serial('a cooldown of 0 throttles nothing, not even a transaction older than the last slot', async (t) => {
  // now() is a transaction's start: a row worked in an older transaction than the one that took
  // the address's last slot must still get its own when there is no cooldown.
  const takeSlot = async (db: typeof tdb.db, outboxId: string, cooldown: number) =>
    (await takeResetSlotsAndRenewNonces(db, cooldown, [{ email: 'race@dm.com', outboxId, nonce: 'n' }]))[0]!.allowed;
  const older = await tdb.db.transaction();
  t.teardown(() => older.rollback().catch(() => {}));
  await older.raw('SELECT now()');
  await new Promise((r) => setTimeout(r, 20));
  t.true(await takeSlot(tdb.db, '1', 0));
  t.true(await takeSlot(older, '2', 0));
  await older.commit();
  t.false(await takeSlot(tdb.db, '3', 60), 'a real cooldown still holds');
});

test.serial(
  'e-mail bombing: the per-address cooldown escalates to an hour, unknown addresses too, and resets after a quiet day',
  async (t) => {
    const { takeResetSlotsAndRenewNonces } = await import('../../src/users/resetThrottle.ts');
    let id = 1000;
    const take = async (email: string) =>
      (await takeResetSlotsAndRenewNonces(tdb.db, 60, [{ email, outboxId: String(id++), nonce: 'n' }], 3600))[0]!
        .allowed;
    // Time passes: the last e-mail to the address went out `seconds` ago.
    const lastSentAgo = (email: string, seconds: number) =>
      tdb
        .db('pwd_reset_throttle')
        .where({ email_key: email })
        .update({ sent_at: tdb.db.raw('now() - make_interval(secs => ?)', [seconds]) });

    for (const email of ['bombed-ghost@dm.com', (await makeUser(tdb.db)).email.toLowerCase()]) {
      t.true(await take(email), 'the first e-mail');
      t.false(await take(email), 'within 60 s');
      await lastSentAgo(email, 61);
      t.true(await take(email), 'after 60 s, the second');
      await lastSentAgo(email, 61);
      t.false(await take(email), 'now the cooldown is 120 s');
      await lastSentAgo(email, 121);
      t.true(await take(email), 'the third');
      await lastSentAgo(email, 239);
      t.false(await take(email), 'then 240 s');
      for (let n = 0; n < 6; n++) {
        await lastSentAgo(email, 3601);
        t.true(await take(email));
      }
      await lastSentAgo(email, 3599);
      t.false(await take(email), 'capped at an hour, and still an hour');
      await lastSentAgo(email, 3601);
      t.true(await take(email));
      await lastSentAgo(email, 86_401);
      t.true(await take(email), 'after a quiet day');
      await lastSentAgo(email, 61);
      t.true(await take(email), 'the cooldown is 60 s again');
    }
  },
);
