/**
 * Every token Dundie makes or accepts. One place knows the scopes, so an access token can never
 * reset a password and a reset token can never be a bearer token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import type { Settings } from '../config.ts';

export type Scope = 'access_token' | 'refresh_token' | 'pwd_reset';

export interface TokenClaims {
  sub: string;
  scope: Scope;
  iat: number;
  exp: number;
  fresh?: boolean;
  /** pwd_reset only: fingerprint of the password hash the token was issued against. */
  pwd?: string;
}

/** What the caller puts in; `iat` may be given to make a token as of another time. */
export type TokenData = { sub: string; iat?: number; fresh?: boolean; pwd?: string };

export class InvalidToken extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidToken';
  }
}

type Security = Settings['security'];

const lifetimeMinutes = (security: Security, scope: Scope) =>
  ({
    access_token: security.ACCESS_TOKEN_EXPIRE_MINUTES,
    refresh_token: security.REFRESH_TOKEN_EXPIRE_MINUTES,
    pwd_reset: security.RESET_TOKEN_EXPIRE_MINUTES,
  })[scope];

/**
 * The twin of the first API's `create_access_token(data, expires_delta, scope)`.
 * `expiresDelta` is in seconds; by default the scope's configured lifetime.
 */
export function createAccessToken(
  security: Security,
  data: TokenData,
  expiresDelta?: number,
  scope: Scope = 'access_token',
): string {
  const iat = data.iat ?? Math.floor(Date.now() / 1000);
  const exp = iat + (expiresDelta ?? lifetimeMinutes(security, scope) * 60);
  const claims: TokenClaims = { ...data, iat, exp, scope };
  if (scope === 'access_token') claims.fresh = data.fresh ?? false;
  return jwt.sign(claims, security.SECRET_KEY, { algorithm: security.ALGORITHM as Algorithm });
}

/** Signature, expiry and scope, or InvalidToken. The algorithm is pinned: no `none`, no swaps. */
export function verifyToken(security: Security, token: string, scope: Scope): TokenClaims {
  let claims: TokenClaims;
  try {
    claims = jwt.verify(token, security.SECRET_KEY, { algorithms: [security.ALGORITHM as Algorithm] }) as TokenClaims;
  } catch (err) {
    throw new InvalidToken((err as Error).message);
  }
  if (typeof claims !== 'object' || typeof claims.sub !== 'string') throw new InvalidToken('token has no subject');
  if (claims.scope !== scope) throw new InvalidToken(`token scope is ${String(claims.scope)}, not ${scope}`);
  return claims;
}

/**
 * Binds a reset token to one password: the token carries a keyed digest of the hash it was
 * issued against, so it stops matching (and so works once) as soon as the password changes.
 */
export function passwordFingerprint(security: Security, passwordHash: string): string {
  return createHmac('sha256', security.SECRET_KEY).update(`pwd_reset:${passwordHash}`).digest('base64url').slice(0, 22);
}

export function fingerprintMatches(security: Security, claims: TokenClaims, passwordHash: string): boolean {
  const expected = Buffer.from(passwordFingerprint(security, passwordHash));
  const given = Buffer.from(typeof claims.pwd === 'string' ? claims.pwd : '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A pwd_reset token for a user, as the dispatcher e-mails it. */
export function createPwdResetToken(security: Security, user: { username: string; password_hash: string }): string {
  return createAccessToken(
    security,
    { sub: user.username, pwd: passwordFingerprint(security, user.password_hash) },
    undefined,
    'pwd_reset',
  );
}

/** The pair `POST /token` and `POST /refresh_token` answer with. */
export function createTokenPair(security: Security, username: string, fresh: boolean) {
  return {
    access_token: createAccessToken(security, { sub: username, fresh }),
    refresh_token: createAccessToken(security, { sub: username }, undefined, 'refresh_token'),
    token_type: 'bearer' as const,
  };
}
