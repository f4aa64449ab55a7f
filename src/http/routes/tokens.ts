/** `POST /token` (OAuth2 password flow, form or JSON) and `POST /refresh_token`. */
import Router from '@koa/router';
import { createTokenPair, InvalidToken, verifyToken } from '../../auth/tokens.ts';
import { unauthorized } from '../../errors.ts';
import { findUserByUsername } from '../../users/queries.ts';
import { authenticate } from '../../users/service.ts';
import type { Deps } from '../auth.ts';
import { text, validate } from '../validate.ts';

const login = { username: text({ max: 150 }), password: text({ max: 1024, controls: true }) };
const refresh = { refresh_token: text({ max: 4096 }) };

export function tokensRouter({ db, config }: Deps): Router {
  const router = new Router();

  router.post('/token', async (ctx) => {
    const { username, password } = validate(login, ctx.request.body);
    const user = await authenticate(db, username, password);
    if (!user) throw unauthorized('Incorrect username or password');
    ctx.body = createTokenPair(config.security, user.username, true);
  });

  router.post('/refresh_token', async (ctx) => {
    const { refresh_token } = validate(refresh, ctx.request.body);
    try {
      const claims = verifyToken(config.security, refresh_token, 'refresh_token');
      const user = await findUserByUsername(db, claims.sub);
      if (!user) throw new InvalidToken('no such user');
      ctx.body = createTokenPair(config.security, user.username, false);
    } catch (err) {
      if (err instanceof InvalidToken) throw unauthorized();
      throw err;
    }
  });

  return router;
}
