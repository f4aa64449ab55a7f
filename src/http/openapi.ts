/**
 * The OpenAPI 3.1 description of the API, served at `/openapi.json` and rendered at `/docs`.
 * Every payload's schema is generated from the zod schema the route validates with
 * (`schemas.ts`); a test compares the paths and methods with the routes the app serves.
 */
import { z } from 'zod';
import { ResetRequest } from '../web/schemas.ts';
import * as schemas from './schemas.ts';

/** Request and response bodies, by the name the document gives them. */
const components = {
  Error: schemas.ErrorBody,
  ValidationError: schemas.ValidationError,
  Login: schemas.Login,
  RefreshRequest: schemas.RefreshRequest,
  TokenPair: schemas.TokenPair,
  User: schemas.User,
  NewUser: schemas.NewUser,
  Profile: schemas.Profile,
  NewPassword: schemas.NewPassword,
  ResetRequest,
  ResetAnswer: schemas.ResetAnswer,
  SecurityEvents: schemas.SecurityEvents,
  ResetCodeRequest: schemas.ResetCodeRequest,
  AdminResetRequest: schemas.AdminResetRequest,
  ResetQueued: schemas.ResetQueued,
  ResetCodeAnswer: schemas.ResetCodeAnswer,
};

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of what a client sends or gets. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
}

/** A query schema's fields as OpenAPI parameters. */
function queryParameters(schema: z.ZodObject): object[] {
  const { properties = {}, required = [] } = jsonSchema(schema) as {
    properties?: Record<string, { description?: string }>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, { description, ...fieldSchema }]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    description,
    schema: fieldSchema,
  }));
}

const ref = (name: keyof typeof components) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const error = (description: string) => ({ description, content: json(ref('Error')) });
const validationError = { description: 'The request body does not validate', content: json(ref('ValidationError')) };
const tooMany = {
  ...error(
    'Too many requests from this client (or failed logins for this username); the same detail whatever was sent',
  ),
  headers: { 'Retry-After': { description: 'Seconds until the limit resets', schema: { type: 'integer' } } },
};
const username = { name: 'username', in: 'path', required: true, schema: { type: 'string' } };
const bearer = [{ bearer: [] }];

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Dundie',
    version: '1.0.0',
    description:
      'User management and the "forgot my password" flow of the Dunder Mifflin rewards API. ' +
      'Every path also answers with a trailing slash. Errors are `{"detail": ...}`.',
  },
  paths: {
    '/health': {
      get: {
        summary: 'The process is up',
        responses: {
          200: { description: 'Serving', content: json({ type: 'object', properties: { status: { const: 'ok' } } }) },
        },
      },
    },
    '/ready': {
      get: {
        summary: 'The database answers (for load balancers)',
        responses: {
          200: { description: 'Ready', content: json({ type: 'object', properties: { status: { const: 'ready' } } }) },
          503: error('The database does not answer'),
        },
      },
    },
    '/token': {
      post: {
        summary: 'Log in (OAuth2 password flow)',
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': { schema: ref('Login') },
            'application/json': { schema: ref('Login') },
          },
        },
        responses: {
          200: { description: 'An access and a refresh token', content: json(ref('TokenPair')) },
          401: error('Incorrect username or password (with `WWW-Authenticate: Bearer`)'),
          422: validationError,
          429: tooMany,
          503: error('Too many password checks in progress: try again in a second (`Retry-After`)'),
        },
      },
    },
    '/refresh_token': {
      post: {
        summary: 'Trade a refresh token for a new pair',
        requestBody: { required: true, content: json(ref('RefreshRequest')) },
        responses: {
          200: { description: 'A new pair', content: json(ref('TokenPair')) },
          401: error('Not a valid refresh token'),
          422: validationError,
        },
      },
    },
    '/user': {
      get: {
        summary: 'List the users',
        responses: { 200: { description: 'Every user', content: json({ type: 'array', items: ref('User') }) } },
      },
      post: {
        summary: 'Create a user (superusers only)',
        security: bearer,
        requestBody: { required: true, content: json(ref('NewUser')) },
        responses: {
          201: { description: 'Created', content: json(ref('User')) },
          401: error('No valid access token'),
          403: error('Not a superuser'),
          409: error('Username already taken, or Email already registered'),
          422: validationError,
        },
      },
    },
    '/user/pwd_reset_token': {
      post: {
        summary: 'Ask for a password reset e-mail',
        description:
          'Queues the e-mail and answers at once, with the same bytes whether or not the address belongs to a user. ' +
          'The e-mail holds a link to `PWD_RESET_URL?pwd_reset_token=...`.',
        requestBody: {
          required: true,
          content: json(ref('ResetRequest')),
        },
        responses: {
          200: { description: 'Queued', content: json(ref('ResetAnswer')) },
          422: validationError,
          429: tooMany,
          503: error(
            'The database did not answer in time (`Retry-After`). "your request was not recorded": no row was written. ' +
              '"your request may have been recorded": its INSERT was sent and may commit later. ' +
              'Asking again is safe either way: one reset e-mail per address per cooldown.',
          ),
        },
      },
    },
    '/user/pwd_reset_code': {
      post: {
        summary: 'Trade the code from a reset e-mail for its reset token',
        description:
          'The e-mail carries an 8-digit code beside its link. The answer is the token the link carries, for ' +
          "`POST /user/{username}/password/?pwd_reset_token=`; the e-mail's link and code die with it. A code is good " +
          'for `RESET_TOKEN_EXPIRE_MINUTES`, once, for the newest e-mail only, and for 5 tries.',
        requestBody: { required: true, content: json(ref('ResetCodeRequest')) },
        responses: {
          200: { description: 'The reset token', content: json(ref('ResetCodeAnswer')) },
          400: error(
            'Invalid or expired code: the same detail for an unknown address, a wrong, expired, used or replaced code, ' +
              'and too many tries',
          ),
          422: validationError,
          429: tooMany,
        },
      },
    },
    '/user/{username}': {
      parameters: [username],
      get: {
        summary: 'One user',
        responses: { 200: { description: 'The user', content: json(ref('User')) }, 404: error('User not found') },
      },
      patch: {
        summary: 'Update a profile (that user or a superuser)',
        security: bearer,
        requestBody: { required: true, content: json(ref('Profile')) },
        responses: {
          200: { description: 'Updated', content: json(ref('User')) },
          401: error('No valid access token'),
          403: error('You can only update your own profile'),
          404: error('User not found'),
          422: validationError,
        },
      },
    },
    '/user/{username}/pwd_reset': {
      parameters: [username],
      post: {
        summary: 'Send a user the reset e-mail (superuser)',
        description:
          "Queues the e-mail a person's own request would: a link and a code. The address's cooldown applies " +
          'unless `override_cooldown`, which is logged with the superuser who asked.',
        security: bearer,
        requestBody: { required: false, content: json(ref('AdminResetRequest')) },
        responses: {
          202: { description: 'Queued', content: json(ref('ResetQueued')) },
          401: error('No valid access token'),
          403: error('Only superusers can send a reset e-mail for a user'),
          404: error('User not found'),
          422: validationError,
        },
      },
    },
    '/user/{username}/password': {
      parameters: [username],
      post: {
        summary: 'Set a new password',
        description:
          'Allowed with a `pwd_reset_token` for that user (good once), or with the access token of that user or of a superuser. ' +
          "An access token that is not fresh (from `/refresh_token`, or from `/token` more than FRESH_TOKEN_MINUTES ago) must come with the caller's own `current_password`.",
        security: [{}, ...bearer],
        parameters: [{ name: 'pwd_reset_token', in: 'query', required: false, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: json(ref('NewPassword')),
        },
        responses: {
          200: { description: 'Changed', content: json(ref('User')) },
          400: error('Passwords do not match'),
          403: error("You are not allowed to change this user's password / Current password is incorrect"),
          404: error('User not found'),
          422: validationError,
          429: tooMany,
          503: error('The server is busy, try again shortly'),
        },
      },
    },
    '/user/{username}/events': {
      parameters: [username],
      get: {
        summary: "The account's recent security activity (that user or a superuser)",
        description:
          'Reset e-mails sent or skipped, password changes (and how), logins and refused logins, refresh-token reuse: ' +
          'newest first, a page at a time. Never a password, token or code.',
        security: bearer,
        parameters: queryParameters(schemas.EventsQuery),
        responses: {
          200: { description: 'A page of events', content: json(ref('SecurityEvents')) },
          401: error('No valid access token'),
          403: error("You can only see your own account's security events"),
          404: error('User not found'),
          422: validationError,
        },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: Object.fromEntries(Object.entries(components).map(([name, schema]) => [name, jsonSchema(schema)])),
  },
};
