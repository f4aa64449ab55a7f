import test from 'ava';
import type { AddressInfo } from 'node:net';
import { requestPwdReset } from '../../src/commands/requestPwdReset.ts';
import { createReceiver, type ReceivedMessage } from '../../docs/examples/emailReceiver.ts';
import { testConfig } from '../helpers/config.ts';
import { useTestDatabase } from '../helpers/db.ts';
import { makeUser } from '../helpers/factories.ts';
import { dispatch, tokenFromText } from '../helpers/flow.ts';

const tdb = useTestDatabase('email_http', { clean: ['outbox', 'pwd_reset_throttle', 'email_suppressions'] });
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

type Answer = { status: number; retryAfter?: string };

/** The reference receiver on a free port; `answer` says what each delivery gets. */
async function receiver(answer: (n: number, message: ReceivedMessage) => Answer = () => ({ status: 202 })) {
  const received: ReceivedMessage[] = [];
  const server = createReceiver(SECRET, (message) => {
    received.push(message);
    return answer(received.length, message);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  const config = testConfig(tdb.url, {
    DUNDIE_EMAIL__TRANSPORT: 'http',
    DUNDIE_EMAIL__HTTP_URL: url,
    DUNDIE_EMAIL__HTTP_SECRET: SECRET,
    DUNDIE_DISPATCHER__BACKOFF_BASE_SECONDS: '1',
  });
  return { received, config, close: () => new Promise((r) => server.close(r)) };
}

test.serial('a reset e-mail is posted signed, with its kind, its language and its link', async (t) => {
  const sink = await receiver();
  t.teardown(sink.close);
  const user = await makeUser(tdb.db);
  const id = await requestPwdReset(tdb.db, sink.config, user.email.toUpperCase(), { locale: 'pt-BR' });
  t.like(await dispatch(tdb.db, sink.config), { sent: 1 });
  const [message] = sink.received;
  t.like(message, { id: `msg_outbox_${id}`, kind: 'pwd_reset_email', locale: 'pt-BR', to: user.email });
  t.truthy(message!.html, 'the HTML part goes too');
  t.truthy(tokenFromText(message!.text));
  t.like(await tdb.db('outbox').where({ id }).first(), { status: 'sent' });
});

test.serial('a 503 with Retry-After is tried again no sooner, under the same message id', async (t) => {
  const sink = await receiver((n) => (n === 1 ? { status: 503, retryAfter: '120' } : { status: 200 }));
  t.teardown(sink.close);
  const user = await makeUser(tdb.db);
  const id = await requestPwdReset(tdb.db, sink.config, user.email);
  t.like(await dispatch(tdb.db, sink.config), { failed: 1 });
  const row = await tdb.db('outbox').where({ id }).first();
  t.is(row.status, 'pending');
  t.regex(row.last_error, /HTTP channel answered 503/);
  t.true(new Date(row.run_after).getTime() >= Date.now() + 110_000, 'not before Retry-After');

  await tdb
    .db('outbox')
    .where({ id })
    .update({ run_after: tdb.db.raw("now() - interval '1 second'") });
  t.like(await dispatch(tdb.db, sink.config), { sent: 1 });
  t.deepEqual(
    sink.received.map((m) => m.id),
    [`msg_outbox_${id}`, `msg_outbox_${id}`],
  );
});

test.serial(
  'a 422 gives the message up at once and suppresses the address; a receiver that is away is retried',
  async (t) => {
    const sink = await receiver(() => ({ status: 422 }));
    t.teardown(sink.close);
    const user = await makeUser(tdb.db);
    const refused = await requestPwdReset(tdb.db, sink.config, user.email);
    t.like(await dispatch(tdb.db, sink.config), { failed: 1 });
    t.like(await tdb.db('outbox').where({ id: refused }).first(), {
      status: 'dead',
      last_error: 'HTTP channel answered 422',
    });
    // 422: how providers' APIs refuse an inactive recipient; the address is not mailed again.
    t.deepEqual(await tdb.db('email_suppressions').pluck('address'), [user.email.toLowerCase()]);

    // Nothing listening on the port any more: a connection refused is temporary.
    await sink.close();
    const other = await makeUser(tdb.db);
    const away = await requestPwdReset(tdb.db, sink.config, other.email);
    t.like(await dispatch(tdb.db, sink.config), { failed: 1 });
    const row = await tdb.db('outbox').where({ id: away }).first();
    t.is(row.status, 'pending');
    t.regex(row.last_error, /HTTP channel/);
  },
);
