/** `POST /token` (OAuth2 password flow, form or JSON) and `POST /refresh_token`. */
import Router from '@koa/router';
import { createTokenPair, InvalidToken, sessionIsCurrent, verifyToken } from '../../auth/tokens.ts';
import { tooManyRequests, unauthorized } from '../httpError.ts';
import { clear, hit, peek } from '../../auth/rateLimits.ts';
import { findUserByUsername } from '../../users/queries.ts';
import { authenticate } from '../../users/account.ts';
import type { Deps } from '../currentUser.ts';
import { limitPerClient } from '../limitPerClient.ts';
import { Login, RefreshRequest } from '../schemas.ts';
import { validate } from '../validate.ts';

export function tokensRouter({ db, config }: Deps): Router {
  const router = new Router();

  const { RATE_LIMIT_LOGIN_PER_MINUTE, LOGIN_FAILURES_PER_USERNAME, LOGIN_FAILURE_WINDOW_SECONDS } = config.security;

  router.post('/token', limitPerClient(db, 'login', RATE_LIMIT_LOGIN_PER_MINUTE), async (ctx) => {
    const { username, password } = validate(Login, ctx.request.body);
    // Failures are counted per username, known or not, across every client: against guessing
    // one account's password from many addresses.
    const failures = `login-failures:${username.toLowerCase()}`;
    if (LOGIN_FAILURES_PER_USERNAME > 0) {
      const { hits, resetInSeconds } = await peek(db, failures, LOGIN_FAILURE_WINDOW_SECONDS);
      if (hits >= LOGIN_FAILURES_PER_USERNAME) throw tooManyRequests(resetInSeconds);
    }
    const user = await authenticate(db, username, password);
    if (!user) {
      if (LOGIN_FAILURES_PER_USERNAME > 0) await hit(db, failures, LOGIN_FAILURE_WINDOW_SECONDS);
      throw unauthorized('Incorrect username or password');
    }
    if (LOGIN_FAILURES_PER_USERNAME > 0) await clear(db, failures);
    ctx.body = createTokenPair(config.security, user, true);
  });

  router.post('/refresh_token', async (ctx) => {
    const { refresh_token } = validate(RefreshRequest, ctx.request.body);
    try {
      const claims = verifyToken(config.security, refresh_token, 'refresh_token');
      const user = await findUserByUsername(db, claims.sub);
      if (!user || !sessionIsCurrent(claims, user)) throw new InvalidToken('no such user, or the password changed since');
      ctx.body = createTokenPair(config.security, user, false);
    } catch (err) {
      if (err instanceof InvalidToken) throw unauthorized();
      throw err;
    }
  });

  return router;
}
