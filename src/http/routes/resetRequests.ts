/**
 * The anonymous half of a reset: asking for the e-mail, and trading the e-mail's code for the
 * link's token. Mounted before the `/user/:username` routes, so the literal paths win.
 */
import Router from '@koa/router';
import { exchangeResetCode, RESET_CODE_REFUSED } from '../../commands/exchangeResetCode.ts';
import { PWD_RESET_MESSAGE, requestPwdReset } from '../../commands/requestPwdReset.ts';
import { negotiateLocale } from '../../locales.ts';
import { requesterOf, type ClientState } from '../../web/client.ts';
import type { DeadlineState } from '../../web/deadline.ts';
import { badRequest } from '../../web/httpError.ts';
import { limitPerClient } from '../../web/limitPerClient.ts';
import { readBody, RESET_REQUEST_BODY_KB } from '../../web/readBody.ts';
import type { RouterDeps } from '../../web/routerDeps.ts';
import { ResetRequest } from '../../web/schemas.ts';
import { validate } from '../../web/validate.ts';
import { ResetCodeRequest } from '../schemas.ts';

export function resetRequestsRouter({ db, config, outbox, limits }: RouterDeps): Router {
  const router = new Router<ClientState & DeadlineState>({ prefix: '/user', sensitive: true });
  router.post(
    '/pwd_reset_token',
    limitPerClient(limits.resetRequestsPerClient),
    readBody(RESET_REQUEST_BODY_KB),
    async (ctx) => {
      const input = validate(ResetRequest, ctx.request.body);
      // The answer stays English (clients match on it); the e-mail follows the caller's language.
      const locale = negotiateLocale(ctx.get('Accept-Language'));
      await requestPwdReset(outbox, config, input.email, {
        locale,
        deadline: ctx.state.deadline,
        requester: requesterOf(ctx),
      });
      ctx.body = { message: PWD_RESET_MESSAGE };
    },
  );

  // The e-mail's code for the link's token. One 400, one detail, for every failure.
  router.post(
    '/pwd_reset_code',
    limitPerClient(limits.resetCodesPerClient),
    readBody(RESET_REQUEST_BODY_KB),
    async (ctx) => {
      const input = validate(ResetCodeRequest, ctx.request.body);
      const exchanged = await exchangeResetCode(db, config, input.email, input.code);
      if (!exchanged) throw badRequest(RESET_CODE_REFUSED);
      // The answer is a secret, as the link is.
      ctx.set('Cache-Control', 'no-store');
      ctx.body = exchanged;
    },
  );

  return router;
}
