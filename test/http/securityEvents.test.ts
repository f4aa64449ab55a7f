/**
 * Security events (issue 26): a row for each thing that happens to an account, written with it,
 * never holding a secret; read by its user or a superuser at `GET /user/{username}/events`.
 */
import test from 'ava';
import { createAccessToken } from '../../src/auth/tokens.ts';
import { housekeeping } from '../../src/commands/housekeeping.ts';
import type { UserRow } from '../../src/users/queries.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, makeUsers, PASSWORD } from '../helpers/factories.ts';
import { cliEnv, runCli } from '../helpers/process.ts';
import { dispatch, readEmailLog, tokenFromText } from '../helpers/flow.ts';
import { startApi, type Api } from '../helpers/service.ts';

const tdb = useTestDatabase('security_events');
let api: Api;
let config: ReturnType<typeof testConfig>;
let bossToken: string;
test.before(async () => {
  config = testConfig(tdb.url, {
    // The limit is the subject of one test; three wrong passwords in a row reach it.
    DUNDIE_SECURITY__LOGIN_FAILURES_PER_CLIENT_AND_USERNAME: '3',
    DUNDIE_SECURITY__PWD_RESET_COOLDOWN_SECONDS: '3600',
  });
  api = await startApi(config);
  tdb.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { name: 'Boss Events', dept: 'management' });
  bossToken = createAccessToken(config.security, { sub: boss.username, fresh: true });
});

const browser = { 'User-Agent': 'Mozilla/5.0 (Events test)', 'X-Request-Id': 'req-events-1' };
const eventsOf = (user: Pick<UserRow, 'id'>) =>
  tdb.db('security_events').where({ user_id: user.id }).orderBy('id').select('*');
const tokenOf = (user: Pick<UserRow, 'username'>) =>
  createAccessToken(config.security, { sub: user.username, fresh: true });

/** Every column of every event, as one text: nothing secret may appear in it. */
const everyEvent = async () => JSON.stringify(await tdb.db('security_events').select('*'));

test.serial('a reset e-mail sent is recorded by the dispatcher, with where the request came from', async (t) => {
  const user = await makeUser(tdb.db);
  const asked = await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email }, headers: browser });
  t.is(asked.status, 200);
  // The request writes the outbox row only: the event comes with the row's end.
  t.deepEqual(await eventsOf(user), []);
  t.is((await dispatch(tdb.db, config)).sent, 1);
  const [event, ...more] = await eventsOf(user);
  t.deepEqual(more, []);
  t.like(event, {
    kind: 'reset_email_sent',
    detail: null,
    client_address: '127.0.0.1',
    user_agent: browser['User-Agent'],
    request_id: browser['X-Request-Id'],
  });
  t.true(event.at instanceof Date);
});

test.serial(
  'a reset e-mail skipped says why, and names neither the address nor anyone for an unknown one',
  async (t) => {
    const user = await makeUser(tdb.db);
    const stranger = 'nobody-has-this-address@dm.com';
    for (const email of [user.email, user.email, stranger])
      await api.request('POST', '/user/pwd_reset_token/', { json: { email }, headers: browser });
    await dispatch(tdb.db, config);
    t.deepEqual(
      (await eventsOf(user)).map((e) => e.kind),
      ['reset_email_sent'],
    );
    // Rows finished together are recorded in one statement, in no set order: compared by reason.
    const skipped = await tdb.db('security_events').where({ kind: 'reset_email_skipped' }).orderBy('detail', 'desc');
    // The second request for the user's address waits out the cooldown; its slot was not taken, so no user is named.
    t.deepEqual(
      skipped.map((e) => [e.detail, e.user_id]),
      [
        ['throttled', null],
        ['no_account', null],
      ],
    );
    t.false((await everyEvent()).includes(stranger));
  },
);

test.serial('rows the dispatcher finishes together each get their event', async (t) => {
  const users = await makeUsers(tdb.db, 12);
  await Promise.all(
    users.map((u) => api.request('POST', '/user/pwd_reset_token/', { json: { email: u.email }, headers: browser })),
  );
  t.is((await dispatch(tdb.db, config)).sent, 12);
  const events = await tdb.db('security_events').whereIn(
    'user_id',
    users.map((u) => u.id),
  );
  t.deepEqual(events.map((e) => e.user_id).sort(), users.map((u) => u.id).sort());
  t.true(events.every((e) => e.kind === 'reset_email_sent' && e.user_agent === browser['User-Agent']));
});

test.serial('a password changed through a reset link is recorded as `link`', async (t) => {
  const user = await makeUser(tdb.db);
  await api.request('POST', '/user/pwd_reset_token/', { json: { email: user.email } });
  await dispatch(tdb.db, config);
  const mail = (await readEmailLog(config)).filter((m) => m.to === user.email).at(-1)!;
  const token = tokenFromText(mail.message);
  const changed = await api.request('POST', `/user/${user.username}/password?pwd_reset_token=${token}`, {
    json: { password: 'a-brand-new-secret-1', password_confirm: 'a-brand-new-secret-1' },
    headers: browser,
  });
  t.is(changed.status, 200);
  t.like((await eventsOf(user)).at(-1), {
    kind: 'password_changed',
    detail: 'link',
    user_agent: browser['User-Agent'],
    request_id: browser['X-Request-Id'],
  });
  const everything = await everyEvent();
  for (const secret of [token, 'a-brand-new-secret-1', PASSWORD]) t.false(everything.includes(secret));
});

test.serial("a password changed with the user's own session is `session`, by a superuser `admin`", async (t) => {
  const user = await makeUser(tdb.db);
  const own = await api.request('POST', `/user/${user.username}/password`, {
    token: tokenOf(user),
    json: { password: 'my-own-new-secret-2', password_confirm: 'my-own-new-secret-2' },
  });
  t.is(own.status, 200);
  const byBoss = await api.request('POST', `/user/${user.username}/password`, {
    token: bossToken,
    json: { password: 'boss-chose-secret-3', password_confirm: 'boss-chose-secret-3' },
  });
  t.is(byBoss.status, 200);
  t.deepEqual(
    (await eventsOf(user)).map((e) => [e.kind, e.detail]),
    [
      ['password_changed', 'session'],
      ['password_changed', 'admin'],
    ],
  );
});

test.serial('logins are recorded: succeeded, refused for the password, refused at the limit', async (t) => {
  const user = await makeUser(tdb.db);
  const login = (password: string) =>
    api.request('POST', '/token', { form: { username: user.username, password }, headers: browser });
  t.is((await login(PASSWORD)).status, 200);
  for (let i = 0; i < 3; i++) t.is((await login('wrong-guess-number-x')).status, 401);
  t.is((await login('wrong-guess-number-x')).status, 429);
  t.deepEqual(
    (await eventsOf(user)).map((e) => [e.kind, e.detail]),
    [
      ['login_succeeded', null],
      ['login_refused', 'password'],
      ['login_refused', 'password'],
      ['login_refused', 'password'],
      ['login_refused', 'limit'],
    ],
  );
  t.false((await everyEvent()).includes('wrong-guess-number-x'));
});

test.serial('a login as no one is recorded without a user, and without the name that was typed', async (t) => {
  const typed = 'maybe-my-password-typed-as-a-name';
  t.is((await api.request('POST', '/token', { form: { username: typed, password: 'whatever-1' } })).status, 401);
  const [event] = await tdb.db('security_events').where({ kind: 'login_refused' }).whereNull('user_id');
  t.like(event, { detail: 'password', user_id: null });
  t.false((await everyEvent()).includes(typed));
});

test.serial('a spent refresh token used again is recorded with its family revoked', async (t) => {
  const user = await makeUser(tdb.db);
  const pair = (await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } })).body;
  const refresh = (refresh_token: string) =>
    api.request('POST', '/refresh_token', { json: { refresh_token }, headers: browser });
  t.is((await refresh(pair.refresh_token)).status, 200);
  t.is((await refresh(pair.refresh_token)).status, 401);
  // Once only: the family is revoked already the next time.
  t.is((await refresh(pair.refresh_token)).status, 401);
  t.deepEqual(
    (await eventsOf(user)).map((e) => e.kind),
    ['login_succeeded', 'refresh_token_reused'],
  );
  const everything = await everyEvent();
  for (const secret of [pair.refresh_token, pair.access_token]) t.false(everything.includes(secret));
});

test.serial('the events cannot be changed once written', async (t) => {
  const user = await makeUser(tdb.db);
  await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  const error = await t.throwsAsync(tdb.db('security_events').where({ user_id: user.id }).update({ detail: 'x' }));
  t.regex(error.message, /append-only/);
});

test.serial('a user reads their own events, newest first, a page at a time', async (t) => {
  const user = await makeUser(tdb.db);
  for (let i = 0; i < 5; i++)
    await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD } });
  const token = tokenOf(user);
  const first = await api.request('GET', `/user/${user.username}/events?limit=2`, { token });
  t.is(first.status, 200);
  t.is(first.headers.get('cache-control'), 'no-store');
  t.is(first.body.events.length, 2);
  t.deepEqual(Object.keys(first.body.events[0]).sort(), [
    'at',
    'client_address',
    'detail',
    'id',
    'kind',
    'request_id',
    'user_agent',
  ]);
  const ids = [...first.body.events.map((e: { id: string }) => e.id)];
  let next = first.body.next as string | null;
  while (next) {
    const page = await api.request('GET', `/user/${user.username}/events?limit=2&before=${next}`, { token });
    ids.push(...page.body.events.map((e: { id: string }) => e.id));
    next = page.body.next;
  }
  const stored = (await eventsOf(user)).map((e) => String(e.id)).reverse();
  t.deepEqual(ids, stored);
  t.is(ids.length, 5);
});

test.serial("another user's events are 403, a superuser's reading them 200, an unknown user 404", async (t) => {
  const [owner, other] = [await makeUser(tdb.db), await makeUser(tdb.db)];
  const path = `/user/${owner.username}/events`;
  t.is((await api.request('GET', path)).status, 401);
  t.is((await api.request('GET', path, { token: tokenOf(other) })).status, 403);
  t.is((await api.request('GET', path, { token: bossToken })).status, 200);
  t.is((await api.request('GET', '/user/no-such-user-here/events', { token: bossToken })).status, 404);
  const bad = await api.request('GET', `${path}?limit=0`, { token: bossToken });
  t.is(bad.status, 422);
  t.deepEqual(bad.body.detail[0].loc, ['query', 'limit']);
});

test.serial('housekeeping deletes events past the retention and keeps the rest', async (t) => {
  const user = await makeUser(tdb.db);
  await tdb.db.raw(
    `INSERT INTO security_events (kind, user_id, at)
     SELECT 'login_succeeded', ?, now() - make_interval(days => d) FROM unnest(array[1, 364, 366, 400]) d`,
    [user.id],
  );
  // Of no account, kept as long as the outbox keeps the same traffic (RETENTION_DAYS, 7).
  await tdb.db.raw(
    `INSERT INTO security_events (kind, detail, at)
     SELECT 'login_refused', 'password', now() - make_interval(days => d) FROM unnest(array[1, 8]) d`,
  );
  const removed = await housekeeping(tdb.db, config);
  t.is(removed.securityEvents, 3);
  const left = await tdb.db('security_events').where({ user_id: user.id }).count<{ count: string }[]>('* as count');
  t.is(Number(left[0]!.count), 2);
  const anonymous = await tdb
    .db('security_events')
    .whereNull('user_id')
    .where('at', '<', tdb.db.raw("now() - interval '7 days'"));
  t.is(anonymous.length, 0);
});

test.serial('`dundie events` lists one user’s events as a table or as JSON lines, since a time', async (t) => {
  const user = await makeUser(tdb.db);
  await api.request('POST', '/token', { form: { username: user.username, password: PASSWORD }, headers: browser });
  await api.request('POST', '/token', { form: { username: user.username, password: 'nope-wrong-1' } });
  await tdb.db.raw(
    `INSERT INTO security_events (kind, user_id, at) VALUES ('login_succeeded', ?, now() - interval '2 days')`,
    [user.id],
  );
  const env = cliEnv(tdb.url);
  const listed = await runCli(['events', '--user', user.username, '--since', '24h'], env);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^at\s+kind\s+username\s+detail\s+client_address\s+request_id\s+user_agent$/m);
  t.regex(listed.stdout, new RegExp(`login_refused\\s+${user.username}\\s+password`));
  t.regex(listed.stdout, new RegExp(`login_succeeded\\s+${user.username}\\s+127\\.0\\.0\\.1\\s+req-events-1`));
  t.is(listed.stdout.trim().split('\n').length, 4, 'the header, its rule and the two events of the last day');
  const json = await runCli(['events', '--user', user.username, '--json'], env);
  t.is(json.code, 0, json.stderr);
  const lines = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((e) => e.kind),
    ['login_refused', 'login_succeeded', 'login_succeeded'],
  );
  t.like(lines[1], { username: user.username, user_agent: browser['User-Agent'] });
  const unknown = await runCli(['events', '--user', 'no-such-user-here'], env);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /no user "no-such-user-here"/);
  t.is((await runCli(['events', '--since', 'yesterday-ish'], env)).code, 2);
});
