import test from 'ava';
import { securityEventColumns, USER_AGENT_MAX } from '../../../src/users/securityEvents.ts';

const event = { kind: 'reset_email_sent', userId: 7 } as const;

test('an event’s fields are cut to their columns’ lengths', (t) => {
  const columns = securityEventColumns({
    event,
    from: { address: '1'.repeat(100), userAgent: 'a'.repeat(1000), requestId: 'r'.repeat(200) },
  });
  t.like(columns, { kind: 'reset_email_sent', user_id: 7, detail: null });
  t.is(columns.client_address?.length, 64);
  t.is(columns.user_agent?.length, USER_AGENT_MAX);
  t.is(columns.request_id?.length, 128);
});

test('a cut never leaves half a surrogate pair, which PostgreSQL refuses in JSON', (t) => {
  const userAgent = `${'a'.repeat(USER_AGENT_MAX - 1)}😀 and more`;
  const { user_agent } = securityEventColumns({ event, from: { userAgent } });
  t.is(user_agent, 'a'.repeat(USER_AGENT_MAX - 1));
});

test('fields not given are null', (t) => {
  t.like(securityEventColumns({ event }), { client_address: null, user_agent: null, request_id: null });
});
