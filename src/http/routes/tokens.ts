/** `POST /token` (OAuth2 password flow, form or JSON) and `POST /refresh_token`. */
import Router from '@koa/router';
import { createTokenPair, InvalidToken, sessionIsCurrent, verifyToken } from '../../auth/tokens.ts';
import { unauthorized } from '../../web/httpError.ts';
import type { RouterDeps } from '../../web/routerDeps.ts';
import { withLoginAttempt } from '../../auth/limits.ts';
import { rotate, startFamily } from '../../auth/refreshFamilies.ts';
import { findUserByUsername } from '../../users/queries.ts';
import { authenticate } from '../../users/account.ts';
import { recordSecurityEvent } from '../../users/securityEvents.ts';
import { TooManyAttempts } from '../../errors.ts';
import { limitPerClient } from '../../web/limitPerClient.ts';
import { ANONYMOUS_BODY_KB, readBody } from '../../web/readBody.ts';
import { DEVICE_COOKIE, DEVICE_COOKIE_DAYS, deviceCookieValue, trustedDevice } from '../../auth/deviceCookies.ts';
import { isHttps, readCookie, serializeCookie } from '../../web/cookies.ts';
import { requesterOf, type ClientState } from '../../web/client.ts';
import type { DeadlineState } from '../../web/deadline.ts';
import { Login, RefreshRequest } from '../schemas.ts';
import { validate } from '../../web/validate.ts';

/** RFC 6749 §5.1: a response carrying tokens is never stored by a cache on the way. */
const noStore = (ctx: { set(field: string, value: string): void }) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
};

export function tokensRouter({ db, config, limits }: Pick<RouterDeps, 'db' | 'config' | 'limits'>): Router {
  const router = new Router<ClientState & DeadlineState>({ sensitive: true });

  const body = readBody(ANONYMOUS_BODY_KB);

  router.post('/token', limitPerClient(limits.loginsPerClient), body, async (ctx) => {
    const { username, password } = validate(Login, ctx.request.body);
    const device = trustedDevice(config.security, readCookie(ctx, DEVICE_COOKIE), username);
    const from = requesterOf(ctx);
    const { client } = ctx.state;
    const lane = { trusted: device !== undefined, client };
    // Counted before the password is checked, known username or not (auth/limits/loginFailures.ts).
    const user = await withLoginAttempt(limits.loginFailures, { username, client, device }, () =>
      authenticate(db, username, password, lane),
    ).catch(async (err) => {
      if (err instanceof TooManyAttempts)
        await recordSecurityEvent(db, { kind: 'login_refused', username, detail: 'limit' }, from);
      throw err;
    });
    if (!user) {
      await recordSecurityEvent(db, { kind: 'login_refused', username, detail: 'password' }, from);
      throw unauthorized('Incorrect username or password');
    }
    const family = await db.transaction(async (trx) => {
      await recordSecurityEvent(trx, { kind: 'login_succeeded', userId: user.id }, from);
      return startFamily(trx, user.id);
    });
    ctx.append(
      'Set-Cookie',
      serializeCookie(DEVICE_COOKIE, deviceCookieValue(config.security, user.username, device), {
        path: '/token',
        maxAgeSeconds: DEVICE_COOKIE_DAYS * 24 * 3600,
        httpOnly: true,
        sameSite: 'Strict',
        secure: isHttps(config),
      }),
    );
    noStore(ctx);
    ctx.body = createTokenPair(config.security, user, true, family);
  });

  router.post('/refresh_token', body, async (ctx) => {
    const { refresh_token } = validate(RefreshRequest, ctx.request.body);
    try {
      const claims = verifyToken(config.security, refresh_token, 'refresh_token');
      const user = await findUserByUsername(db, claims.sub);
      if (!user || !sessionIsCurrent(claims, user))
        throw new InvalidToken('no such user, or the password changed since');
      // Tokens from before rotation carry no family: their holders log in once more.
      if (typeof claims.fam !== 'string' || typeof claims.jti !== 'string')
        throw new InvalidToken('refresh token without a family');
      const rotation = await rotate(db, { fam: claims.fam, jti: claims.jti }, user.id, (trx) =>
        recordSecurityEvent(trx, { kind: 'refresh_token_reused', userId: user.id }, requesterOf(ctx)),
      );
      if (!rotation.ok) {
        if (rotation.reuse)
          ctx.state.log.warn({ username: user.username }, 'spent refresh token used again: its family is revoked');
        throw new InvalidToken('spent or revoked refresh token');
      }
      noStore(ctx);
      ctx.body = createTokenPair(config.security, user, false, rotation.next);
    } catch (err) {
      if (err instanceof InvalidToken) throw unauthorized();
      throw err;
    }
  });

  return router;
}
