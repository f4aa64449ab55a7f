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

export function identifyClient(ipv6PrefixBits: number): Middleware<ClientState> {
  return (ctx, next) => {
    ctx.state.client = clientKey(ctx.ip, ipv6PrefixBits);
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
