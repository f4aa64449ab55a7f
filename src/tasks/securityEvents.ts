/**
 * The reset e-mail's security events: the request put where it came from in the row's payload
 * (the request itself writes nothing more), and the task's outcome carries the event, written by
 * the statement that records the row's end.
 */
import { z } from 'zod';
import { alongside, type WriteMany } from '../outbox/taskList.ts';
import {
  insertSecurityEventsSql,
  securityEventColumns,
  USER_AGENT_MAX,
  type Requester,
  type SecurityEventEntry,
} from '../users/securityEvents.ts';

/** `requester` in a reset row's payload, as `commands/requestPwdReset.ts` writes it. */
export const requesterPayload = z.object({
  address: z.string().optional(),
  user_agent: z.string().optional(),
  request_id: z.string().optional(),
});
export type RequesterPayload = z.infer<typeof requesterPayload>;

/** Cut as the event keeps it: a user agent can be 16 kB of header, and every reset row would carry it. */
export const toRequesterPayload = (from: Requester): RequesterPayload => ({
  address: from.address,
  user_agent: from.userAgent?.slice(0, USER_AGENT_MAX),
  request_id: from.requestId,
});

type ResetEmailEvent = Extract<SecurityEventEntry['event'], { kind: 'reset_email_sent' | 'reset_email_skipped' }>;

/** The events of the rows the dispatcher finishes together: one INSERT in the statement that ends them. */
const writeEvents: WriteMany<SecurityEventEntry<ResetEmailEvent>> = {
  sql: insertSecurityEventsSql,
  item: securityEventColumns,
};

/** The events of one reset row: sent to `userId`, or skipped (`why`, as the event's detail names it). */
export function resetEmailEvents(requester: RequesterPayload | undefined) {
  const from: Requester = {
    address: requester?.address,
    userAgent: requester?.user_agent,
    requestId: requester?.request_id,
  };
  return {
    sent: (userId: number) => alongside(writeEvents, { event: { kind: 'reset_email_sent', userId }, from }),
    skipped: (why: string, userId?: number) =>
      alongside(writeEvents, { event: { kind: 'reset_email_skipped', userId, detail: why }, from }),
  };
}
