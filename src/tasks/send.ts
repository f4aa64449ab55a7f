/**
 * Sends through the mailer, turning a refusal that is final for this message (see
 * `email/refusals.ts`) into the outbox's `PermanentFailure`: the row goes dead at once with the
 * reply in `last_error` instead of being retried for a day.
 */
import type { Mailer } from '../email/mailer.ts';
import { permanentRefusal } from '../email/refusals.ts';
import { PermanentFailure } from '../outbox/tasks.ts';

export async function sendMail(
  mailer: Mailer,
  template: string,
  vars: Record<string, unknown>,
  locale?: string,
): Promise<void> {
  try {
    await mailer.send(template, vars, locale);
  } catch (err) {
    const refusal = permanentRefusal(err);
    if (refusal) throw new PermanentFailure(refusal, { cause: err });
    throw err;
  }
}
