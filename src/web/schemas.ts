/**
 * The request schemas the API and the pages share: the strings every payload is made of, and the
 * reset request, so a form's typed address is read as the API reads it. The API's other payloads
 * are in `http/schemas.ts`; the OpenAPI document names these too.
 */
import { z } from 'zod';
import { EMAIL_MAX_LENGTH, mailboxProblem } from '../users/emailAddress.ts';

// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A string of `min` to `max` characters. It must be well-formed Unicode (a lone surrogate is
 * refused here rather than by PostgreSQL, as a 500) and, unless `controls`, hold no control
 * characters (no CR/LF can reach a header or a log line).
 */
export function text({ min = 1, max = 1000, controls = false } = {}) {
  const checked = z
    .string()
    .min(min)
    .max(max)
    .refine((v) => v.isWellFormed(), { message: 'String must be valid Unicode', params: { type: 'string_unicode' } });
  return controls
    ? checked
    : checked.refine((v) => !CONTROL.test(v), {
        message: 'String must not contain control characters',
        params: { type: 'value_error' },
      });
}

/** One plain mailbox (`users/emailAddress.ts`): not a proof that it exists, never two recipients. */
export const email = () =>
  text({ max: EMAIL_MAX_LENGTH })
    .check((ctx) => {
      const problem = mailboxProblem(ctx.value);
      if (problem)
        ctx.issues.push({ code: 'custom', message: problem, params: { type: 'value_error' }, input: ctx.value });
    })
    .meta({ format: 'email' });

export const ResetRequest = z.object({ email: email() });
