/** The `/user` resource: profiles, creation, password changes, security events (reset requests: `resetRequests.ts`). */
import Router, { type RouterContext } from '@koa/router';
import type { Middleware } from 'koa';
import { withLoginAttempt } from '../../auth/limits.ts';
import { isFresh, pwdResetClaims, resetOpens } from '../../auth/tokens.ts';
import { changePassword } from '../../commands/changePassword.ts';
import { createUser } from '../../commands/createUser.ts';
import { RESET_QUEUED, sendPwdReset } from '../../commands/sendPwdReset.ts';
import { NotAllowed, NotFound, USER_NOT_FOUND } from '../../errors.ts';
import { negotiateLocale } from '../../locales.ts';
import { isSuperuser, updateProfile } from '../../users/account.ts';
import { findUserByUsername, listUsers, type UserRow } from '../../users/queries.ts';
import { verifyPassword } from '../../users/passwords.ts';
import { listSecurityEvents, type PasswordChangeHow } from '../../users/securityEvents.ts';
import { badRequest, forbidden, HttpError, validationFailed } from '../../web/httpError.ts';
import type { RouterDeps } from '../../web/routerDeps.ts';
import { optionalCaller, requireSuperuser, requireUser, type AuthState } from '../currentUser.ts';
import { requesterOf, type ClientState } from '../../web/client.ts';
import type { DeadlineState } from '../../web/deadline.ts';
import type { RequestLogState } from '../../web/requestLog.ts';
import { presentSecurityEvent, presentUser } from '../presenters.ts';
import { readBody } from '../../web/readBody.ts';
import { AdminResetRequest, EventsQuery, NewPassword, NewUser, Profile } from '../schemas.ts';
import { validate } from '../../web/validate.ts';

const NOT_ALLOWED_TO_CHANGE_PASSWORD = "You are not allowed to change this user's password";

/** What the middleware in front of a handler has put in `ctx.state`. */
interface RouteState extends AuthState, DeadlineState, ClientState, RequestLogState {
  target: UserRow;
  /** Set when the caller's token is not fresh: they must give their own current password. */
  reauthenticate?: UserRow;
  /** How the caller may change the password, for the notice e-mail and the security event. */
  how: PasswordChangeHow;
}

/** 404 for an unknown username; the target user lands in `ctx.state.target`. */
function loadTarget({ db }: Pick<RouterDeps, 'db'>): Middleware<RouteState, RouterContext> {
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
function mayChangePassword(deps: Pick<RouterDeps, 'db' | 'config'>): Middleware<RouteState> {
  const { security } = deps.config;
  return async (ctx, next) => {
    const { target } = ctx.state;
    const resetToken = ctx.query.pwd_reset_token;
    let allowed = false;
    if (typeof resetToken === 'string') {
      const claims = pwdResetClaims(security, resetToken);
      allowed = claims !== undefined && resetOpens(security, claims, target);
      ctx.state.how = claims?.via === 'code' ? 'code' : 'link';
    } else {
      // An invalid bearer token is simply no permission here (403, as SPEC §1 answers);
      // anything else, a database outage say, is not.
      const caller = await optionalCaller(deps, ctx).catch((err) => {
        if (err instanceof HttpError && err.status === 401) return undefined;
        throw err;
      });
      allowed = caller !== undefined && (caller.user.id === target.id || isSuperuser(caller.user));
      ctx.state.how = caller?.user.id === target.id ? 'session' : 'admin';
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

/** 422 without current_password, 403 when it is wrong; counted like a login attempt. */
async function confirmCurrentPassword(
  limits: RouterDeps['limits'],
  caller: UserRow,
  given: string | undefined,
  client: string,
): Promise<void> {
  if (given === undefined) {
    throw validationFailed([
      {
        loc: ['body', 'current_password'],
        msg: 'Field required unless the access token is fresh from /token',
        type: 'missing',
      },
    ]);
  }
  // Guessing the current password here counts with guesses at /token.
  const right = await withLoginAttempt(limits.loginFailures, { username: caller.username, client }, () =>
    verifyPassword(given, caller.password_hash, { trusted: true }),
  );
  if (!right) throw forbidden('Current password is incorrect');
}

export function usersRouter(deps: RouterDeps): Router {
  const { db, config, limits } = deps;
  const router = new Router<RouteState>({ prefix: '/user', sensitive: true });

  router.get('/', async (ctx) => {
    ctx.body = (await listUsers(db)).map(presentUser);
  });

  const body = readBody(config.api.BODY_LIMIT_KB);

  router.post('/', requireSuperuser(deps), body, async (ctx) => {
    const input = validate(NewUser, ctx.request.body);
    ctx.status = 201;
    ctx.body = presentUser(await createUser(db, input));
  });

  router.get('/:username', loadTarget(deps), (ctx) => {
    ctx.body = presentUser(ctx.state.target);
  });

  router.patch('/:username', requireUser(deps), loadTarget(deps), body, async (ctx) => {
    const { user, target } = ctx.state;
    if (user.id !== target.id && !isSuperuser(user)) throw new NotAllowed('You can only update your own profile');
    const input = validate(Profile, ctx.request.body);
    ctx.body = presentUser(await updateProfile(db, target, input));
  });

  // The account's "recent security activity", newest first, a page at a time.
  router.get('/:username/events', requireUser(deps), loadTarget(deps), async (ctx) => {
    const { user, target } = ctx.state;
    if (user.id !== target.id && !isSuperuser(user))
      throw new NotAllowed("You can only see your own account's security events");
    const { before, limit = 50 } = validate(EventsQuery, ctx.query, 'query');
    const rows = await listSecurityEvents(db, { userId: target.id, before, limit: limit + 1 });
    const page = rows.slice(0, limit);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { events: page.map(presentSecurityEvent), next: rows.length > limit ? page.at(-1)!.id : null };
  });

  // A superuser sends a user the reset e-mail a person would ask for (the cooldown applies).
  router.post('/:username/pwd_reset', requireUser(deps), loadTarget(deps), body, async (ctx) => {
    const { user, target } = ctx.state;
    if (!isSuperuser(user)) throw new NotAllowed('Only superusers can send a reset e-mail for a user');
    const input = validate(AdminResetRequest, ctx.request.body ?? {});
    await sendPwdReset(db, config, ctx.state.log, target, {
      by: `superuser ${user.username}`,
      overrideCooldown: input.override_cooldown,
      requester: requesterOf(ctx),
    });
    ctx.status = 202;
    ctx.body = { message: RESET_QUEUED };
  });

  router.post('/:username/password', loadTarget(deps), mayChangePassword(deps), body, async (ctx) => {
    const { target } = ctx.state;
    const input = validate(NewPassword, ctx.request.body);
    if (input.password !== input.password_confirm) throw badRequest('Passwords do not match');
    const { reauthenticate } = ctx.state;
    if (reauthenticate) await confirmCurrentPassword(limits, reauthenticate, input.current_password, ctx.state.client);
    const changed = await changePassword(db, config, target, input.password, {
      how: ctx.state.how,
      requester: requesterOf(ctx),
      // An administrator's language need not be the user's: theirs is not known, so the default.
      locale: ctx.state.how === 'admin' ? undefined : negotiateLocale(ctx.get('Accept-Language')),
    });
    // Changed meanwhile by another request (the same reset token used twice at once).
    if (!changed) throw new NotAllowed(NOT_ALLOWED_TO_CHANGE_PASSWORD);
    ctx.body = presentUser(changed);
  });

  return router;
}
