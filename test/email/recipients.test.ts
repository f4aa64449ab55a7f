/**
 * One address, one recipient (`email/recipients.ts`, the mailer's check): an address that stands
 * for several recipients is refused by the API, the CLI and the mailer, also when stored or queued
 * before the check; over SMTP the recipients counted are the envelope's.
 */
import test from 'ava';
import net from 'node:net';
import { createTokenPair } from '../../src/auth/tokens.ts';
import { createMailer } from '../../src/email/mailer.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser, makeUsers } from '../helpers/factories.ts';
import { dispatch, readEmailLog } from '../helpers/flow.ts';
import { cliEnv, runCli } from '../helpers/process.ts';
import { startApi } from '../helpers/service.ts';
import { startSmtpSink } from '../helpers/smtp.ts';

const tdb = useTestDatabase('email_recipients');

const SMUGGLED = [
  'comma,attacker@evil.com',
  'angle<attacker@evil.com>',
  'me@dm.com (attacker@evil.com)',
  'x@dm.com;attacker@evil.com',
  'group: attacker@evil.com;',
  '"a@dm.com"@evil.com',
];

test.serial('an address with several recipients is refused by the API, the CLI and the mailer', async (t) => {
  const config = testConfig(tdb.url);
  const api = await startApi(config);
  t.teardown(() => api.service.stop());
  const boss = await makeUser(tdb.db, { dept: 'management' });
  const token = createTokenPair(config.security, boss, true).access_token;
  for (const email of SMUGGLED) {
    const created = await api.request('POST', '/user/', {
      json: { name: 'Eve', email, dept: 'sales', password: 'a-fine-password-1' },
      token,
    });
    t.is(created.status, 422, email);
    t.deepEqual(
      created.body.detail.map((i: { loc: string[] }) => i.loc),
      [['body', 'email']],
    );
    t.is((await api.request('POST', '/user/pwd_reset_token/', { json: { email } })).status, 422, email);
  }
  for (const email of SMUGGLED.slice(0, 2)) {
    const cli = await runCli(
      ['create-user', '--name', 'Eve Cli', '--email', email, '--password', 'a-fine-password-1', '--dept', 'sales'],
      cliEnv(tdb.url),
    );
    t.not(cli.code, 0, email);
  }
  t.is(Number((await tdb.db('users').where('email', 'like', '%evil%').count({ n: '*' }))[0]!.n), 0);

  // A row stored before this check: the mailer refuses it rather than write to attacker@evil.com.
  const [legacy] = await makeUsers(tdb.db, 1);
  await tdb.db('users').where({ id: legacy!.id }).update({ email: 'legacy@dm.com,attacker@evil.com' });
  const mailer = createMailer(config.email);
  await t.throwsAsync(
    mailer.send('pwd_reset_email', {
      sender: 'no-reply@dm.com',
      to: 'legacy@dm.com,attacker@evil.com',
      url: 'u',
      pwd_reset_token: 't',
      code: '12345678',
      expire: 10,
    }),
    { message: /2 recipients/ },
  );
  // And a row queued before it, for that address.
  await tdb
    .db('outbox')
    .insert({ kind: 'pwd_reset_email', payload: { email: 'legacy@dm.com,attacker@evil.com' }, max_attempts: 1 });
  await dispatch(tdb.db, config);
  t.is(
    (
      await tdb
        .db('outbox')
        .where('payload', '@>', JSON.stringify({ email: 'legacy@dm.com,attacker@evil.com' }))
        .first()
    )?.status,
    'dead',
  );
  t.false((await readEmailLog(config)).some((m) => m.to.includes('evil')));
});

test("over SMTP, the recipients counted are the envelope's: a bare word beside an address is no second RCPT TO", async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  // What the client says, as it says it: the sink refuses `RCPT TO:<bob>` before any hook of its sees it.
  let said = '';
  const wire = net.createServer((client) => {
    const server = net.connect(sink.port, '127.0.0.1');
    client.on('data', (d) => {
      said += String(d);
      server.write(d);
    });
    server.pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => wire.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => wire.close());
  const config = testConfig(tdb.url, {
    DUNDIE_EMAIL__DEBUG_MODE: 'false',
    DUNDIE_EMAIL__SMTP_SERVER: '127.0.0.1',
    DUNDIE_EMAIL__SMTP_PORT: String((wire.address() as net.AddressInfo).port),
  });
  const mailer = createMailer(config.email);
  t.teardown(() => mailer.close());
  const vars = { sender: 'no-reply@dm.com', url: 'u', pwd_reset_token: 't', code: '12345678', expire: 10 };
  for (const to of ['legacy@dm.com,attacker@evil.com', 'legacy@dm.com; attacker@evil.com']) {
    await t.throwsAsync(mailer.send('pwd_reset_email', { ...vars, to }), { message: /2 recipients/ }, to);
  }
  // The header reads `bob` as a display name; the envelope holds legacy@dm.com alone.
  await mailer.send('pwd_reset_email', { ...vars, to: 'legacy@dm.com, bob' });
  await sink.waitFor(1);
  t.deepEqual(
    [...said.matchAll(/^RCPT TO:<([^>]*)>/gim)].map((m) => m[1]),
    ['legacy@dm.com'],
  );
});
