/**
 * One schema per payload of the API, in zod: the routes validate with them (`web/validate.ts`)
 * and the OpenAPI document is generated from them (`openapi.ts`), so what is checked and what is
 * documented cannot drift apart. The ones the pages read too (`ResetRequest`, and the strings
 * every schema is made of) are in `web/schemas.ts`. Limits are generous upper bounds against abuse; the password's real rules
 * are the domain's policy (`users/passwordPolicy.ts`), checked after validation.
 */
import { z } from 'zod';
import { PWD_RESET_MESSAGE } from '../commands/requestPwdReset.ts';
import { RESET_QUEUED } from '../commands/sendPwdReset.ts';
import { SECURITY_EVENT_KINDS } from '../users/securityEvents.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/passwordPolicy.ts';
import { email, text } from '../web/schemas.ts';

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
export const AdminResetRequest = z.object({
  override_cooldown: z
    .boolean()
    .optional()
    .describe("Send even within the address's cooldown (logged); the e-mail still counts toward it"),
});
export const ResetCodeRequest = z.object({
  email: email(),
  code: text({ max: 32 }).describe('The 8 digits from the reset e-mail; spaces and dashes are ignored'),
});

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
export const EventsQuery = z.object({
  before: z
    .string()
    .regex(/^\d{1,18}$/, 'Input should be the `next` of the page before')
    .optional()
    .describe('The `next` of the page before: the events older than that one'),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'Input should be a whole number from 1 to 200')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 200, { message: 'Input should be a whole number from 1 to 200' })
    .optional()
    .describe('Events per page, 1 to 200 (default 50)'),
});
export const SecurityEvent = z.object({
  id: z.string(),
  at: z.string().meta({ format: 'date-time' }),
  kind: z.enum(SECURITY_EVENT_KINDS),
  detail: z.string().nullable().describe('How a password was changed, or why a login was refused or an e-mail skipped'),
  client_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
});
export const SecurityEvents = z.object({
  events: z.array(SecurityEvent).describe('Newest first'),
  next: z.string().nullable().describe('`before` for the next page; null on the last'),
});
export const ResetQueued = z.object({ message: z.literal(RESET_QUEUED) });
export const ResetCodeAnswer = z.object({
  pwd_reset_token: z.string().describe('For `POST /user/{username}/password/?pwd_reset_token=`, as from the link'),
  username: z.string(),
});
export const ErrorBody = z.object({ detail: z.string() });
export const ValidationError = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() })),
});
