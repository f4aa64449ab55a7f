/**
 * The pages a person sees: ask for a reset link, open it, choose a new password. One router,
 * longer than most modules, so the whole of a person's flow reads top to bottom in one place.
 * Plain HTML forms posting `application/x-www-form-urlencoded`, post/redirect/get, no
 * JavaScript needed. They go through the API's own functions, limits and cooldown:
 * `requestPwdReset` (through a group-commit batcher), the same per-client limits as
 * `POST /user/pwd_reset_token/` and `/user/pwd_reset_code/`, `passwordProblem`, and `changePassword`.
 *
 *   GET  /reset_password                     the e-mail form; with a reset cookie: choose or expired
 *   GET  /reset_password?pwd_reset_token=T   moves T into the reset cookie, then on to the above
 *   POST /reset_password                     queue the e-mail → 303 /reset_password/sent
 *   GET  /reset_password/sent                the same message for every address, and the code form
 *   POST /reset_password/code                the address and the e-mail's code → the reset cookie,
 *                                            303 /reset_password (choose a password)
 *   POST /reset_password/new_password        the address the link was sent to and the new password
 *                                            → 303 /reset_password/done
 *   GET  /reset_password/done                "Password changed" and what happens next
 *
 * No GET changes anything on the server: link scanners and prefetchers open links.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Settings } from '../config.ts';
import { changePassword } from '../commands/changePassword.ts';
import { exchangeResetCode } from '../commands/exchangeResetCode.ts';
import { requestPwdReset } from '../commands/requestPwdReset.ts';
import { requesterOf, type ClientState } from '../web/client.ts';
import type { DeadlineState } from '../web/deadline.ts';
import { asHttpError } from '../web/errorMapping.ts';
import { HttpError } from '../web/httpError.ts';
import { ANONYMOUS_BODY_KB, readBody, RESET_REQUEST_BODY_KB } from '../web/readBody.ts';
import { ResetRequest } from '../web/schemas.ts';
import { validate } from '../web/validate.ts';
import type { Logger } from '../log.ts';
import { pwdResetClaims } from '../auth/tokens.ts';
import { projectRoot } from '../paths.ts';
import { passwordProblem, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/passwordPolicy.ts';
import { readCookie } from '../web/cookies.ts';
import { limitPerClient } from '../web/limitPerClient.ts';
import type { RouterDeps } from '../web/routerDeps.ts';
import {
  ADDRESS_COOKIE,
  clearAddressCookie,
  clearResetCookie,
  PAGES_PATH,
  readLangCookie,
  RESET_COOKIE,
  setAddressCookie,
  setLangCookie,
  setResetCookie,
} from './cookies.ts';
import { fromOurOwnPage, pageHeaders } from './guards.ts';
import { matchLocale } from '../locales.ts';
import { catalog, format, negotiateLocale, translatePolicy, type Locale } from './i18n.ts';
import { isAddressOfLink, userOfResetLink } from './resetLink.ts';
import { renderPage, type PageName, type PageView } from './views.ts';

/** Every path the pages serve, their static files included: no API, so the app keeps CORS off them. */
export const isPagePath = (path: string) =>
  path === PAGES_PATH || path.startsWith(`${PAGES_PATH}/`) || path.startsWith('/static/');

type PageState = DeadlineState & ClientState & { log: Logger; locale: Locale };
type PageContext = Context & { state: PageState };

const field = (body: unknown, name: string): string => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
};

/** The address a form sent, trimmed, and the same read as the API's (`valid`), unless it is none. */
function typedAddress(body: unknown): { address: string; valid?: string } {
  const address = field(body, 'email').trim();
  try {
    return { address, valid: validate(ResetRequest, { email: address }).email };
  } catch (err) {
    if (!(err instanceof HttpError) || err.status !== 422) throw err;
    return { address };
  }
}

/** `?lang=` (remembered in a cookie) first, then the cookie, then Accept-Language, then the default. */
function chooseLocale(config: Settings): Middleware<PageState> {
  return async (ctx, next) => {
    const asked = typeof ctx.query.lang === 'string' ? matchLocale(ctx.query.lang) : undefined;
    if (ctx.method === 'GET' && asked) setLangCookie(ctx, config, asked);
    ctx.state.locale =
      asked ??
      readLangCookie(ctx) ??
      negotiateLocale(ctx.get('Accept-Language')) ??
      (config.email.DEFAULT_LOCALE as Locale);
    await next();
  };
}

async function show(ctx: PageContext, status: number, page: PageName, view: PageView): Promise<void> {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = await renderPage(page, ctx.state.locale, view);
}

/**
 * Everything under /reset_password is a page, whatever goes wrong: the page headers, the person's
 * language, and never a JSON error. A database outage says "try again in a moment" (503 with
 * Retry-After); a body the parser refused (too large, unreadable) says so; an unknown path or
 * method is "page not found"; anything unexpected is logged (no cookies, no body) and answered
 * 500. Mounted ahead of the body parser and the API's error handler, for these paths only.
 */
export function pagesBoundary(config: Settings): Middleware<PageState> {
  const headers = pageHeaders();
  const locale = chooseLocale(config);
  const isPage = (path: string) => path === PAGES_PATH || path.startsWith(`${PAGES_PATH}/`);
  return (ctx, next) => {
    if (!isPage(ctx.path)) return next();
    return headers(ctx, () =>
      locale(ctx, async () => {
        try {
          await next();
        } catch (err) {
          // The API's own mapping (database away, password checks at capacity, bad bodies), as a page.
          const known = asHttpError(err);
          const status = known?.status ?? 500;
          if (known) ctx.set(known.headers);
          if (status === 500)
            ctx.state.log.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error on a page');
          const title = status < 500 ? 'bad_request_title' : 'error_title';
          const body = catalog(ctx.state.locale)[status < 500 ? 'bad_request_body' : 'error_body'];
          return show(ctx, status, 'message', { title, vars: { body } });
        }
        if ((ctx.status === 404 || ctx.status === 405) && ctx.body === undefined) {
          const [title, body] =
            ctx.status === 404 ? ['not_found_title', 'not_found_body'] : ['bad_request_title', 'bad_request_body'];
          await show(ctx, ctx.status, 'message', { title, vars: { body: catalog(ctx.state.locale)[body] } });
        }
      }),
    );
  };
}

/** Refuses a form that another site made the browser post (CSRF). */
function ownFormsOnly(config: Settings): Middleware<PageState> {
  return async (ctx, next) => {
    if (fromOurOwnPage(ctx, config)) return next();
    await show(ctx, 403, 'message', {
      title: 'forbidden_title',
      vars: { body: catalog(ctx.state.locale).forbidden_body },
    });
  };
}

/** The stylesheet and the optional script, read once, served from our own origin. */
function staticFile(name: string, type: string): Middleware {
  const content = readFileSync(path.join(projectRoot, 'static', name));
  return (ctx) => {
    ctx.set({
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': "default-src 'none'",
    });
    ctx.type = type;
    ctx.body = content;
  };
}

/** The page that says the e-mail was sent, and takes its code. */
const sent = { title: 'sent_title', path: `${PAGES_PATH}/sent` } as const;

/** The page a link opens: the request form, the password form, or word that the link has expired. */
function resetPage({ db, config }: RouterDeps): Middleware<PageState> {
  const minutes = config.security.RESET_TOKEN_EXPIRE_MINUTES;
  return async (ctx) => {
    const token = ctx.query.pwd_reset_token;
    if (typeof token === 'string' && token !== '') {
      // Out of the address bar and the history: the token goes into the cookie, and the page
      // moves on by a same-origin refresh (which replaces this history entry). Not a 303: a
      // redirect keeps the e-mail client's cross-site context, and the browser would then hold
      // back the SameSite=Strict cookie just set.
      setResetCookie(ctx, config, token);
      return show(ctx, 200, 'continue', { title: 'continue_title', vars: { refresh: PAGES_PATH } });
    }
    const cookie = readCookie(ctx, RESET_COOKIE);
    if (!cookie) return show(ctx, 200, 'request', { title: 'request_title' });
    const user = await userOfResetLink(db, config, cookie);
    if (!user) {
      clearResetCookie(ctx, config);
      return show(ctx, 200, 'expired', { title: 'expired_title', vars: { minutes } });
    }
    return show(ctx, 200, 'choose', { title: 'choose_title', vars: { username: user.username, name: user.name } });
  };
}

/** The request form posted: the e-mail is queued, and the page says it was sent. */
function askForEmail({ config, outbox }: RouterDeps): Middleware<PageState> {
  return async (ctx) => {
    const { address, valid } = typedAddress(ctx.request.body);
    if (valid === undefined) {
      const errors = { email: catalog(ctx.state.locale).email_invalid };
      return show(ctx, 400, 'request', { title: 'request_title', vars: { errors, email: address } });
    }
    await requestPwdReset(outbox, config, valid, {
      locale: ctx.state.locale,
      deadline: ctx.state.deadline,
      requester: requesterOf(ctx),
    });
    clearResetCookie(ctx, config);
    setAddressCookie(ctx, config, valid);
    ctx.status = 303;
    ctx.redirect(`${PAGES_PATH}/sent`);
  };
}

/** The e-mail's code typed in: from here on it is the link's flow. */
function tradeCode({ db, config }: RouterDeps): Middleware<PageState> {
  const minutes = config.security.RESET_TOKEN_EXPIRE_MINUTES;
  return async (ctx) => {
    const { address, valid } = typedAddress(ctx.request.body);
    const code = field(ctx.request.body, 'code');
    if (valid === undefined) {
      const errors = { email: catalog(ctx.state.locale).email_invalid };
      return show(ctx, 400, 'sent', { ...sent, vars: { minutes, email: address, errors } });
    }
    const exchanged = await exchangeResetCode(db, config, valid, code);
    if (!exchanged) {
      // One answer for every failure, as the API gives: it says nothing about the address.
      const errors = { code: catalog(ctx.state.locale).code_invalid };
      return show(ctx, 400, 'sent', { ...sent, vars: { minutes, email: address, errors } });
    }
    // From here on it is the link's flow: the token in the cookie, then choose a password.
    setResetCookie(ctx, config, exchanged.pwd_reset_token);
    clearAddressCookie(ctx, config);
    ctx.status = 303;
    ctx.redirect(PAGES_PATH);
  };
}

/** The new password, checked as the API checks it, and the address the link was sent to. */
function setNewPassword({ db, config }: RouterDeps): Middleware<PageState> {
  const minutes = config.security.RESET_TOKEN_EXPIRE_MINUTES;
  return async (ctx) => {
    const user = await userOfResetLink(db, config, readCookie(ctx, RESET_COOKIE));
    const expired = () => {
      clearResetCookie(ctx, config);
      return show(ctx, 403, 'expired', { title: 'expired_title', vars: { minutes } });
    };
    if (!user) return expired();
    const email = field(ctx.request.body, 'email');
    const password = field(ctx.request.body, 'password');
    const confirm = field(ctx.request.body, 'password_confirm');
    const t = catalog(ctx.state.locale);
    const errors: Record<string, string> = {};
    // Asked on the page only: the API's token route stays as SPEC has it (docs/pages.md).
    if (!isAddressOfLink(user, email)) errors.email = format(t.sent_to_mismatch!, { username: user.username });
    const problem = passwordProblem(password, user);
    if (problem)
      errors.password = translatePolicy(ctx.state.locale, problem, {
        min: PASSWORD_MIN_LENGTH,
        max: PASSWORD_MAX_LENGTH,
      });
    if (password !== confirm) errors.password_confirm = t.mismatch!;
    if (Object.keys(errors).length > 0) {
      return show(ctx, 400, 'choose', {
        title: 'choose_title',
        vars: { username: user.username, name: user.name, email: email.trim(), errors },
      });
    }
    // The API's function: the same transaction, the same notice e-mail, every session ended.
    const how = pwdResetClaims(config.security, readCookie(ctx, RESET_COOKIE) ?? '')?.via === 'code' ? 'code' : 'link';
    const changed = await changePassword(db, config, user, password, {
      how,
      requester: requesterOf(ctx),
      locale: ctx.state.locale,
    });
    if (!changed) return expired();
    clearResetCookie(ctx, config);
    ctx.status = 303;
    ctx.redirect(`${PAGES_PATH}/done`);
  };
}

export function pagesRouter(deps: RouterDeps): Router<PageState> {
  const { config, limits } = deps;
  const router = new Router<PageState>({ sensitive: true });
  const minutes = config.security.RESET_TOKEN_EXPIRE_MINUTES;
  // Headers, language and errors come from pagesBoundary, mounted ahead of this router; a form
  // post also needs to come from our own page.
  const form = [ownFormsOnly(config)] as const;

  router.get('/static/dundie.css', staticFile('dundie.css', 'text/css; charset=utf-8'));
  router.get('/static/dundie.js', staticFile('dundie.js', 'text/javascript; charset=utf-8'));
  router.get('/static/dundie.svg', staticFile('dundie.svg', 'image/svg+xml'));

  router.get(PAGES_PATH, resetPage(deps));

  // A refused request gets the form back with what was typed, so here the limit counts after the body is read.
  const requestsLimit = limitPerClient<PageState>(limits.resetRequestsPerClient, (ctx, retryAfter) =>
    show(ctx, 429, 'request', {
      title: 'request_title',
      vars: { retry_after: retryAfter, email: typedAddress(ctx.request.body).address },
    }),
  );
  router.post(PAGES_PATH, ...form, readBody(RESET_REQUEST_BODY_KB), requestsLimit, askForEmail(deps));

  router.get(`${PAGES_PATH}/sent`, (ctx) =>
    show(ctx, 200, 'sent', { ...sent, vars: { minutes, email: readCookie(ctx, ADDRESS_COOKIE) ?? '' } }),
  );

  const codesLimit = limitPerClient<PageState>(limits.resetCodesPerClient, (ctx, retryAfter) =>
    show(ctx, 429, 'sent', {
      ...sent,
      vars: { minutes, email: typedAddress(ctx.request.body).address, retry_after: retryAfter },
    }),
  );
  router.post(`${PAGES_PATH}/code`, ...form, readBody(RESET_REQUEST_BODY_KB), codesLimit, tradeCode(deps));

  router.post(`${PAGES_PATH}/new_password`, ...form, readBody(ANONYMOUS_BODY_KB), setNewPassword(deps));

  // The form's own address, opened again (Enter in the address bar, a restored tab): the form.
  router.get(`${PAGES_PATH}/new_password`, (ctx) => {
    ctx.status = 303;
    ctx.redirect(PAGES_PATH);
  });

  router.get(`${PAGES_PATH}/done`, (ctx) =>
    show(ctx, 200, 'done', { title: 'done_title', path: `${PAGES_PATH}/done` }),
  );

  return router;
}
