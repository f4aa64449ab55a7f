/**
 * Who the client is, for every limit: the address the request came from (X-Forwarded-For's
 * entry of our nearest proxy, with TRUST_PROXY), as one canonical key (`auth/clientKey.ts`).
 */
import type { Middleware } from 'koa';
import { clientKey } from '../auth/clientKey.ts';
import type { Requester } from '../users/securityEvents.ts';
import type { RequestLogState } from './requestLog.ts';

export interface ClientState {
  client: string;
}

/** Addresses whose keys are remembered, at most; the memory is emptied when full. */
const REMEMBERED_MAX = 1024;
/** Longer address text (a forged X-Forwarded-For entry) is keyed each time, never remembered. */
const REMEMBERED_LENGTH = 64;

export function identifyClient(ipv6PrefixBits: number): Middleware<ClientState> {
  // A client sends request after request from one address, and keying it is a parse.
  const keys = new Map<string, string>();
  return (ctx, next) => {
    const address = ctx.ip;
    let key = keys.get(address);
    if (key === undefined) {
      key = clientKey(address, ipv6PrefixBits);
      if (address.length <= REMEMBERED_LENGTH) {
        if (keys.size >= REMEMBERED_MAX) keys.clear();
        keys.set(address, key);
      }
    }
    ctx.state.client = key;
    return next();
  };
}

/** Where a request came from, for its security events: the address (as `ctx.ip` trusts it), user agent and request id. */
export function requesterOf(ctx: { ip: string; get(field: string): string; state: object }): Requester {
  return {
    // An IPv4 client of a dual-stack socket, as people write it.
    address: ctx.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') || undefined,
    userAgent: ctx.get('User-Agent') || undefined,
    requestId: (ctx.state as Partial<RequestLogState>).requestId,
  };
}
