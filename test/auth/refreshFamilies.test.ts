/**
 * Refresh token rotation (`auth/refreshFamilies.ts`): each refresh token is good once, a spent one
 * presented again revokes its whole family, other families are untouched, and racing requests
 * with one token get one pair at most.
 */
import test from 'ava';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, PASSWORD } from '../helpers/factories.ts';
import { startApi } from '../helpers/service.ts';

const tdb = useTestDatabase('refresh_families');

test.serial('refresh tokens rotate: each is good once, and a reused one ends its whole family', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const user = await makeUser(tdb.db);
  const refresh = (refresh_token: string) => api.request('POST', '/refresh_token', { json: { refresh_token } });
  const login = () => api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });

  // A client that always uses the newest pair keeps working.
  const first = (await login()).body;
  let pair = first;
  for (let i = 0; i < 3; i++) {
    const next = await refresh(pair.refresh_token);
    t.is(next.status, 200);
    pair = next.body;
  }
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { token: pair.access_token, json: { bio: 'still here' } }))
      .status,
    200,
  );

  // A thief replays a spent refresh token: refused, and the owner's newest tokens die with it.
  t.is((await refresh(first.refresh_token)).status, 401);
  t.is((await refresh(pair.refresh_token)).status, 401, 'the family is revoked');
  t.is(
    (await api.request('PATCH', `/user/${user.username}/`, { token: pair.access_token, json: { bio: 'x' } })).status,
    401,
    "the family's access tokens too",
  );

  // Another login (another family) is untouched.
  const other = (await login()).body;
  t.is((await refresh(other.refresh_token)).status, 200);

  // Two requests racing with one refresh token: one pair at most.
  const racing = (await login()).body.refresh_token;
  const answers = await Promise.all(Array.from({ length: 8 }, () => refresh(racing)));
  t.true(answers.filter((r) => r.status === 200).length <= 1);
});
