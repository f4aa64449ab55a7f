/**
 * One log line per request, with an id that is also sent back as `X-Request-Id` (or taken from
 * the caller's, when it looks like one), so a client's report can be matched to our logs.
 * The URL is logged redacted: a reset link's token never reaches the logs.
 */
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { redactUrl, type Logger } from '../log.ts';

const USABLE_ID = /^[\w.:-]{1,128}$/;

/**
 * Request ids shaped as UUIDs: a random UUID's first 24 characters (74 random bits) drawn once,
 * then a counter in the last 12 hex digits. Unique across processes and restarts as
 * `randomUUID()` per request would be, without its ~600 bytes of garbage per request; an id is a
 * label for finding a request in the logs, not a secret.
 */
function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 24);
  let next = Math.floor(Math.random() * 2 ** 40);
  return () => prefix + (next++ % 2 ** 48).toString(16).padStart(12, '0');
}

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
  const newId = requestIds();
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('X-Request-Id');
    const requestId = USABLE_ID.test(given) ? given : newId();
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
