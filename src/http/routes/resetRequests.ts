/**
 * The anonymous half of a reset: asking for the e-mail, and trading the e-mail's code for the
 * link's token. Mounted before the `/user/:username` routes, so the literal paths win.
 */
import Router from '@koa/router';
import { exchangeResetCode, RESET_CODE_REFUSED } from '../../commands/exchangeResetCode.ts';
import { PWD_RESET_MESSAGE, requestPwdReset, requestPwdResetWithinLimit } from '../../commands/requestPwdReset.ts';
import { negotiateLocale } from '../../locales.ts';
import { requesterOf, type ClientState } from '../../web/client.ts';
import type { DeadlineState } from '../../web/deadline.ts';
import { badRequest, tooManyRequests } from '../../web/httpError.ts';
import { limitPerClient } from '../../web/limitPerClient.ts';
import { readBody, RESET_REQUEST_BODY_KB } from '../../web/readBody.ts';
import type { RouterDeps } from '../../web/routerDeps.ts';
import { ResetRequest } from '../../web/schemas.ts';
import { validate } from '../../web/validate.ts';
import { ResetCodeRequest } from '../schemas.ts';

export function resetRequestsRouter({ db, config, outbox, resetRequests, limits }: RouterDeps): Router {
  const router = new Router<ClientState & DeadlineState>({ prefix: '/user', sensitive: true });
  // The client's budget is counted by the statement that queues the row, so the body is read and
  // checked first: a request that queues nothing counts nothing and costs the database nothing.
  router.post('/pwd_reset_token', readBody(RESET_REQUEST_BODY_KB), async (ctx) => {
    const input = validate(ResetRequest, ctx.request.body);
    const options = {
      // The answer stays English (clients match on it); the e-mail follows the caller's language.
      locale: negotiateLocale(ctx.get('Accept-Language')),
      deadline: ctx.state.deadline,
      requester: requesterOf(ctx),
    };
    if (resetRequests) {
      const outcome = await requestPwdResetWithinLimit(resetRequests, config, input.email, ctx.state.client, options);
      if (!outcome.allowed) throw tooManyRequests(outcome.retryAfterSeconds);
    } else {
      await requestPwdReset(outbox, config, input.email, options);
    }
    ctx.body = { message: PWD_RESET_MESSAGE };
  });

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
