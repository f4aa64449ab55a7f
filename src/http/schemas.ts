/**
 * One schema per payload, in zod: the routes validate with them (`validate.ts`) and the OpenAPI
 * document is generated from them (`openapi.ts`), so what is checked and what is documented
 * cannot drift apart. Limits are generous upper bounds against abuse; the password's real rules
 * are the domain's policy (`users/passwordPolicy.ts`), checked after validation.
 */
import { z } from 'zod';
import { PWD_RESET_MESSAGE } from '../commands/requestPwdReset.ts';
import { EMAIL_MAX_LENGTH, mailboxProblem } from '../users/emailAddress.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/passwordPolicy.ts';

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

const password = text({ max: 1024, controls: true }).describe(
  `${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters, not the username or e-mail, not one of the 10,000 most common passwords`,
);
const isWebUrl = (v: string) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol);
/** Rendered as an image by front ends: a `javascript:` or `data:` URL there is a script or a payload. */
const avatar = text({ max: 2048 })
  .refine(isWebUrl, { message: 'Avatar must be an http(s) URL', params: { type: 'value_error' } })
  .nullable()
  .optional();
const bio = text({ max: 2000, controls: true }).nullable().optional();

export const Login = z.object({ username: text({ max: 150 }), password: text({ max: 1024, controls: true }) });
export const RefreshRequest = z.object({ refresh_token: text({ max: 4096 }) });
export const NewUser = z.object({
  name: text({ max: 200 }),
  email: email(),
  dept: text({ max: 100 }).describe('`management` makes a superuser'),
  password,
  currency: text({ min: 3, max: 3 }).optional().describe('Defaults to USD'),
  username: text({ max: 150 }).optional().describe('Defaults to the name, lower-cased, spaces as `-`'),
  avatar,
  bio,
});
export const Profile = z.object({ avatar, bio });
export const NewPassword = z.object({
  password,
  password_confirm: password,
  current_password: text({ max: 1024, controls: true })
    .optional()
    .describe(
      'Required with an access token that is not fresh (from /refresh_token, or from /token more than FRESH_TOKEN_MINUTES ago)',
    ),
});
export const ResetRequest = z.object({ email: email() });

export const User = z.object({
  name: z.string(),
  username: z.string(),
  dept: z.string(),
  avatar: z.string().nullable(),
  bio: z.string().nullable(),
  currency: z.string(),
});
export const TokenPair = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('bearer'),
});
export const ResetAnswer = z.object({ message: z.literal(PWD_RESET_MESSAGE) });
export const ErrorBody = z.object({ detail: z.string() });
export const ValidationError = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() })),
});
