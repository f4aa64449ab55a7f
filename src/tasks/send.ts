/**
 * Sends through the mailer, for the tasks: an address on the suppression list is not mailed
 * (the task ends `skipped`, `suppressed`); a refusal that is final for this message (see
 * `email/refusals.ts`) becomes the outbox's `PermanentFailure` (the row goes dead at once with the
 * reply in `last_error` instead of being retried for a day), and puts the address on the list
 * when it was the recipient that was refused; an answer that says when to try again
 * (`Retry-After`) becomes `RetryLater`.
 */
import type { Db } from '../db/database.ts';
import { GroupCommit } from '../db/groupCommit.ts';
import { HttpChannelError } from '../email/httpChannel.ts';
import { SendNotStarted, type Mailer } from '../email/mailer.ts';
import { permanentRefusal, recipientRefused } from '../email/refusals.ts';
import { suppress, suppressedAmong } from '../email/suppressions.ts';
import { HandBack, PermanentFailure, RetryLater, type TaskRow } from '../outbox/taskList.ts';

export const SUPPRESSED = 'suppressed';

/** The stable id of a row's message: the same on every try of the row. */
export const messageIdOf = (row: Pick<TaskRow, 'id'>) => `msg_outbox_${row.id}`;

export type SendMail = (
  template: string,
  vars: Record<string, unknown> & { to: string },
  locale: string | undefined,
  row: Pick<TaskRow, 'id'>,
  signal?: AbortSignal,
) => Promise<'sent' | typeof SUPPRESSED>;

export function mailSender({ db, mailer }: { db: Db; mailer: Mailer }): SendMail {
  // The e-mails in flight together share one lookup.
  const lookups = new GroupCommit((addresses: string[]) => suppressedAmong(db, addresses));
  return async (template, vars, locale, row, signal) => {
    if (await lookups.add(vars.to)) return SUPPRESSED;
    try {
      await mailer.send(template, vars, locale, { id: messageIdOf(row), signal });
      return 'sent';
    } catch (err) {
      if (err instanceof SendNotStarted) throw new HandBack(err.message, { cause: err });
      const refusal = permanentRefusal(err);
      if (refusal) {
        // Should the list not take it, the row still goes dead; the next refusal adds it.
        if (recipientRefused(err)) await suppress(db, vars.to, refusal).catch(() => {});
        throw new PermanentFailure(refusal, { cause: err });
      }
      if (err instanceof HttpChannelError && err.retryAfterSeconds !== undefined)
        throw new RetryLater(err.message, err.retryAfterSeconds, { cause: err });
      throw err;
    }
  };
}
