/**
 * Who the client is, for every limit: the address the request came from (X-Forwarded-For's
 * entry of our nearest proxy, with TRUST_PROXY), as one canonical key (`auth/clientKey.ts`).
 */
import type { Middleware } from 'koa';
import { clientKey } from '../auth/clientKey.ts';

export interface ClientState {
  client: string;
}

export function identifyClient(ipv6PrefixBits: number): Middleware<ClientState> {
  return (ctx, next) => {
    ctx.state.client = clientKey(ctx.ip, ipv6PrefixBits);
    return next();
  };
}
