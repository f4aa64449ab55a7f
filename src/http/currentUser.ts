/**
 * Who is calling: the bearer access token, checked for signature, expiry and scope, and the
 * user it names. Only `access_token` is a bearer token here; the other scopes are refused.
 */
import type { Context, Middleware } from 'koa';
import { familyIsLive } from '../auth/refreshFamilies.ts';
import { InvalidToken, sessionIsCurrent, verifyToken, type TokenClaims } from '../auth/tokens.ts';
import { forbidden, unauthorized } from '../web/httpError.ts';
import type { RouterDeps } from '../web/routerDeps.ts';
import { isSuperuser } from '../users/account.ts';
import { findUserByUsername, type UserRow } from '../users/queries.ts';

/** A caller is looked up in the database, by a token signed with the settings' keys. */
type Deps = Pick<RouterDeps, 'db' | 'config'>;

export interface AuthState {
  user: UserRow;
}

function bearerToken(ctx: Context): string | undefined {
  const header = ctx.get('Authorization');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The calling user, undefined when no Authorization header is sent, 401 when it is not valid. */
export async function optionalUser(deps: Deps, ctx: Context): Promise<UserRow | undefined> {
  return (await optionalCaller(deps, ctx))?.user;
}

/** The calling user and the claims of the token that named them (whether it is fresh, say). */
export async function optionalCaller(
  { db, config }: Deps,
  ctx: Context,
): Promise<{ user: UserRow; claims: TokenClaims } | undefined> {
  const token = bearerToken(ctx);
  if (token === undefined) {
    if (ctx.get('Authorization')) throw unauthorized();
    return undefined;
  }
  try {
    const claims = verifyToken(config.security, token, 'access_token');
    const user = await findUserByUsername(db, claims.sub);
    // A password change since the token was issued ends the session.
    if (!user || !sessionIsCurrent(claims, user)) throw unauthorized();
    // So does a refresh token family revoked for reuse: its access tokens die with it.
    if (!(await familyIsLive(db, claims.fam))) throw unauthorized();
    return { user, claims };
  } catch (err) {
    if (err instanceof InvalidToken) throw unauthorized();
    throw err;
  }
}

/** Requires a valid bearer access token; the user lands in `ctx.state.user`. */
export function requireUser(deps: Deps): Middleware<AuthState> {
  return async (ctx, next) => {
    const user = await optionalUser(deps, ctx);
    if (!user) throw unauthorized('Not authenticated');
    ctx.state.user = user;
    await next();
  };
}

export function requireSuperuser(deps: Deps): Middleware<AuthState> {
  const authenticated = requireUser(deps);
  return (ctx, next) =>
    authenticated(ctx, async () => {
      if (!isSuperuser(ctx.state.user)) throw forbidden('Only superusers can create users');
      await next();
    });
}
