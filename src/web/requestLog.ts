/**
 * One log line per request, with an id that is also sent back as `X-Request-Id` (or taken from
 * the caller's, when it looks like one), so a client's report can be matched to our logs.
 * The URL is logged redacted: a reset link's token never reaches the logs.
 */
import type { Middleware } from 'koa';
import { redactUrl, type Logger } from '../log.ts';
import { randomText } from '../randomText.ts';

const USABLE_ID = /^[\w.:-]{1,128}$/;

/**
 * 128 random bits as 32 hex digits, cut from the pool of random bytes: one string per request
 * (`randomUUID()` builds its 36 characters from ~20 pieces). Not guessable, so no client can send
 * its own X-Request-Id ahead of a request it wants to be mistaken for.
 */
const newRequestId = () => randomText(16, 'hex');

export interface RequestLogState {
  readonly requestId: string;
  /** The request's own logger: every line it writes carries `requestId`. */
  readonly log: Logger;
}

/**
 * Koa's `ctx.state`, started with the request's id. Its logger is a child made on first use:
 * most requests log nothing but their one line, and a child costs an allocation and a
 * serialised binding. A getter on the prototype, so no request pays for defining it.
 */
class RequestState implements RequestLogState {
  #child: Logger | undefined;
  readonly #parent: Logger;
  readonly requestId: string;

  constructor(parent: Logger, requestId: string) {
    this.#parent = parent;
    this.requestId = requestId;
  }

  get log(): Logger {
    return (this.#child ??= this.#parent.child({ requestId: this.requestId }));
  }

  /** The logger for the request's line: its child if it has one, else the parent (with the id in the line). */
  get lineLogger(): Logger {
    return this.#child ?? this.#parent;
  }

  get hasChild(): boolean {
    return this.#child !== undefined;
  }
}

/** First in the chain: it replaces `ctx.state` with the request's own. */
export function requestLog(log: Logger): Middleware<RequestLogState> {
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('X-Request-Id');
    const requestId = USABLE_ID.test(given) ? given : newRequestId();
    ctx.set('X-Request-Id', requestId);
    const state = new RequestState(log, requestId);
    ctx.state = state;
    try {
      await next();
    } finally {
      if (log.isLevelEnabled('info')) {
        const line = {
          requestId: state.hasChild ? undefined : requestId,
          method: ctx.method,
          url: redactUrl(ctx.originalUrl),
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        };
        state.lineLogger.info(line, 'request');
      }
    }
  };
}
