/** The `/user` resource: profiles, creation, password changes and reset requests. */
import Router, { type RouterContext } from '@koa/router';
import type { Middleware } from 'koa';
import { loginThrottle } from '../../auth/loginThrottle.ts';
import { isFresh, pwdResetClaims, resetOpens } from '../../auth/tokens.ts';
import { changePassword } from '../../commands/changePassword.ts';
import { createUser } from '../../commands/createUser.ts';
import { PWD_RESET_MESSAGE, requestPwdReset } from '../../commands/requestPwdReset.ts';
import { NotAllowed, NotFound, USER_NOT_FOUND } from '../../errors.ts';
import type { EnqueueBatcher } from '../../outbox/enqueueBatcher.ts';
import { negotiateLocale } from '../../locales.ts';
import { isSuperuser, presentUser } from '../../users/presenter.ts';
import { findUserByUsername, listUsers, type UserRow } from '../../users/queries.ts';
import { updateProfile } from '../../users/account.ts';
import { verifyPassword } from '../../users/passwords.ts';
import { badRequest, forbidden, HttpError, validationFailed } from '../httpError.ts';
import { optionalCaller, requireSuperuser, requireUser, type AuthState, type Deps } from '../currentUser.ts';
import type { ClientState } from '../client.ts';
import type { DeadlineState } from '../deadline.ts';
import { limitPerClient } from '../limitPerClient.ts';
import { readBody, RESET_REQUEST_BODY_KB } from '../readBody.ts';
import { NewPassword, NewUser, Profile, ResetRequest } from '../schemas.ts';
import { validate } from '../validate.ts';

const NOT_ALLOWED_TO_CHANGE_PASSWORD = "You are not allowed to change this user's password";

/** What the middleware in front of a handler has put in `ctx.state`. */
interface RouteState extends AuthState, DeadlineState, ClientState {
  target: UserRow;
  /** Set when the caller's token is not fresh: they must give their own current password. */
  reauthenticate?: UserRow;
}

/** 404 for an unknown username; the target user lands in `ctx.state.target`. */
function loadTarget({ db }: Deps): Middleware<RouteState, RouterContext> {
  return async (ctx, next) => {
    const target = await findUserByUsername(db, ctx.params.username!);
    if (!target) throw new NotFound(USER_NOT_FOUND);
    ctx.state.target = target;
    await next();
  };
}

/**
 * Who may set a user's password: a reset token for that user, issued against the current
 * password, or the bearer of that user's or a superuser's access token.
 */
function mayChangePassword(deps: Deps): Middleware<RouteState> {
  const { security } = deps.config;
  return async (ctx, next) => {
    const { target } = ctx.state;
    const resetToken = ctx.query.pwd_reset_token;
    let allowed = false;
    if (typeof resetToken === 'string') {
      const claims = pwdResetClaims(security, resetToken);
      allowed = claims !== undefined && resetOpens(security, claims, target);
    } else {
      // An invalid bearer token is simply no permission here (403, as the first API answered);
      // anything else, a database outage say, is not.
      const caller = await optionalCaller(deps, ctx).catch((err) => {
        if (err instanceof HttpError && err.status === 401) return undefined;
        throw err;
      });
      allowed = caller !== undefined && (caller.user.id === target.id || isSuperuser(caller.user));
      // A token that came from /refresh_token, or from /token long ago, may be a stolen one:
      // its bearer proves who they are with the current password (Django, Devise do the same).
      if (caller && !isFresh(security, caller.claims)) ctx.state.reauthenticate = caller.user;
    }
    if (!allowed) throw new NotAllowed(NOT_ALLOWED_TO_CHANGE_PASSWORD);
    // The URL carries a secret: keep it out of Referer headers and caches.
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}

export function usersRouter(deps: Deps & { outbox: EnqueueBatcher }): Router {
  const { db, config, outbox } = deps;
  const router = new Router<RouteState>({ prefix: '/user', sensitive: true });
  // Guessing the current password here counts with guesses at /token.
  const throttle = loginThrottle(db, config.security);

  /** 422 without current_password, 403 when it is wrong; counted like a login attempt. */
  const confirmCurrentPassword = async (caller: UserRow, given: string | undefined, client: string) => {
    if (given === undefined) {
      throw validationFailed([
        {
          loc: ['body', 'current_password'],
          msg: 'Field required unless the access token is fresh from /token',
          type: 'missing',
        },
      ]);
    }
    const attempt = await throttle.begin(caller.username, client);
    const right = await verifyPassword(given, caller.password_hash, { trusted: true }).catch(async (err) => {
      await attempt.cancelled();
      throw err;
    });
    if (!right) throw forbidden('Current password is incorrect');
    await attempt.succeeded();
  };

  router.get('/', async (ctx) => {
    ctx.body = (await listUsers(db)).map(presentUser);
  });

  const body = readBody(config.api.BODY_LIMIT_KB);

  router.post('/', requireSuperuser(deps), body, async (ctx) => {
    const input = validate(NewUser, ctx.request.body);
    ctx.status = 201;
    ctx.body = presentUser(await createUser(db, input));
  });

  // Registered before '/:username' routes so the literal path wins.
  router.post(
    '/pwd_reset_token',
    limitPerClient(db, 'pwd-reset', config.security.RATE_LIMIT_PWD_RESET_PER_MINUTE),
    readBody(RESET_REQUEST_BODY_KB),
    async (ctx) => {
      const input = validate(ResetRequest, ctx.request.body);
      // The answer stays English (clients match on it); the e-mail follows the caller's language.
      const locale = negotiateLocale(ctx.get('Accept-Language'));
      await requestPwdReset(outbox, config, input.email, { locale, deadline: ctx.state.deadline });
      ctx.body = { message: PWD_RESET_MESSAGE };
    },
  );

  router.get('/:username', loadTarget(deps), (ctx) => {
    ctx.body = presentUser(ctx.state.target);
  });

  router.patch('/:username', requireUser(deps), loadTarget(deps), body, async (ctx) => {
    const { user, target } = ctx.state;
    if (user.id !== target.id && !isSuperuser(user)) throw new NotAllowed('You can only update your own profile');
    const input = validate(Profile, ctx.request.body);
    ctx.body = presentUser(await updateProfile(db, target, input));
  });

  router.post('/:username/password', loadTarget(deps), mayChangePassword(deps), body, async (ctx) => {
    const { target } = ctx.state;
    const input = validate(NewPassword, ctx.request.body);
    if (input.password !== input.password_confirm) throw badRequest('Passwords do not match');
    const { reauthenticate } = ctx.state;
    if (reauthenticate) await confirmCurrentPassword(reauthenticate, input.current_password, ctx.state.client);
    const changed = await changePassword(db, config, target, input.password);
    // Changed meanwhile by another request (the same reset token used twice at once).
    if (!changed) throw new NotAllowed(NOT_ALLOWED_TO_CHANGE_PASSWORD);
    ctx.body = presentUser(changed);
  });

  return router;
}
