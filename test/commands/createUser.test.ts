/**
 * Creating a user (`commands/createUser.ts`) through the API: the new password meets the same
 * policy as any other.
 */
import test from 'ava';
import { createAccessToken } from '../../src/auth/tokens.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('create_user');

test.serial("a new user's password meets the password policy: a common one is 422", async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const token = createAccessToken(config.security, { sub: boss.username });
  const res = await api.request('POST', '/user/', {
    token,
    json: { name: 'Ryan Howard', email: 'ryan@dm.com', dept: 'temp', password: 'password1' },
  });
  t.is(res.status, 422);
  t.regex(res.body.detail[0].msg, /too common/);
});
