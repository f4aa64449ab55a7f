/**
 * Every token Dundie makes or accepts. One place knows the scopes, so an access token can never
 * reset a password and a reset token can never be a bearer token.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import type { Settings } from '../config.ts';
import { randomText } from '../randomText.ts';

export type Scope = 'access_token' | 'refresh_token' | 'pwd_reset';

export interface TokenClaims {
  sub: string;
  scope: Scope;
  iat: number;
  exp: number;
  fresh?: boolean;
  /** access and refresh tokens: the user's token_version when issued (a password change bumps it). */
  ver?: number;
  /** pwd_reset only: fingerprint of the password hash and reset nonce it was issued against. */
  pwd?: string;
  /** access and refresh tokens from a login: its refresh token family (`refreshFamilies.ts`). */
  fam?: string;
  /** refresh tokens: their one-time id within the family. */
  jti?: string;
  /** pwd_reset only: `code` when traded for an e-mail's one-time code rather than e-mailed as a link. */
  via?: 'code';
}

/** What the caller puts in; `iat` may be given to make a token as of another time. */
export type TokenData = {
  sub: string;
  iat?: number;
  fresh?: boolean;
  ver?: number;
  pwd?: string;
  fam?: string;
  jti?: string;
  via?: 'code';
};

export class InvalidToken extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidToken';
  }
}

type Security = Settings['security'];

/**
 * Keys as KeyObjects, made once: given a string, jsonwebtoken tries to parse it as a PEM private
 * key on every call before it takes it as a secret (docs/performance.md). The same bytes either
 * way, so the tokens are the same.
 */
const keyObjects = new Map<string, KeyObject>();
function keyObject(secret: string): KeyObject {
  let key = keyObjects.get(secret);
  if (!key) keyObjects.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
}

const lifetimeMinutes = (security: Security, scope: Scope) =>
  ({
    access_token: security.ACCESS_TOKEN_EXPIRE_MINUTES,
    refresh_token: security.REFRESH_TOKEN_EXPIRE_MINUTES,
    pwd_reset: security.RESET_TOKEN_EXPIRE_MINUTES,
  })[scope];

/**
 * The one function that makes tokens (SPEC §2), so every scope gets the same claims and key.
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
  return jwt.sign(claims, keyObject(security.SECRET_KEY), { algorithm: security.ALGORITHM as Algorithm });
}

/**
 * Signature, expiry and scope, or InvalidToken. The algorithm is pinned: no `none`, no swaps.
 * SECRET_KEY is tried first, then PREVIOUS_SECRET_KEYS, so tokens outlive a key rotation.
 */
export function verifyToken(security: Security, token: string, scope: Scope): TokenClaims {
  let claims: TokenClaims | undefined;
  let failure: unknown;
  for (const key of security.VERIFY_KEYS) {
    try {
      claims = jwt.verify(token, keyObject(key), { algorithms: [security.ALGORITHM as Algorithm] }) as TokenClaims;
      break;
    } catch (err) {
      failure = err;
      // Only a wrong signature is worth trying the next key for; expiry or a bad shape are final.
      if ((err as Error).message !== 'invalid signature') break;
    }
  }
  if (!claims) throw new InvalidToken((failure as Error).message);
  if (typeof claims !== 'object' || typeof claims.sub !== 'string') throw new InvalidToken('token has no subject');
  // jsonwebtoken checks `exp` only when present: a token without one would never expire.
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number')
    throw new InvalidToken('token has no exp or iat');
  if (claims.scope !== scope) throw new InvalidToken(`token scope is ${String(claims.scope)}, not ${scope}`);
  return claims;
}

interface ResetBinding {
  password_hash: string;
  reset_nonce: string | null;
}

/**
 * Binds a reset token to one password and one e-mail: a keyed digest of the password hash and
 * of the nonce the e-mail renewed. A new password or a newer e-mail makes it stop matching.
 */
export function passwordFingerprint(key: string, user: ResetBinding): string {
  return createHmac('sha256', key)
    .update(`pwd_reset:${user.password_hash}:${user.reset_nonce ?? ''}`)
    .digest('base64url')
    .slice(0, 22);
}

/** Compared in constant time, against every key that may have signed the token. */
export function fingerprintMatches(security: Security, claims: TokenClaims, user: ResetBinding): boolean {
  const given = Buffer.from(typeof claims.pwd === 'string' ? claims.pwd : '');
  let match = false;
  for (const key of security.VERIFY_KEYS) {
    const expected = Buffer.from(passwordFingerprint(key, user));
    if (given.length === expected.length && timingSafeEqual(given, expected)) match = true;
  }
  return match;
}

/** The claims of a `pwd_reset` token that verifies (signature, expiry, scope), else undefined. */
export function pwdResetClaims(security: Security, token: string): TokenClaims | undefined {
  try {
    return verifyToken(security, token, 'pwd_reset');
  } catch (err) {
    if (err instanceof InvalidToken) return undefined;
    throw err;
  }
}

/** Whether verified reset claims open `user`'s account: theirs, issued against their current password and nonce. */
export function resetOpens(
  security: Security,
  claims: TokenClaims,
  user: ResetBinding & { username: string },
): boolean {
  return claims.sub === user.username && fingerprintMatches(security, claims, user);
}

/** A user's next reset_nonce: renewing it ends the reset tokens issued against the last one. */
export const newResetNonce = () => randomText(12, 'base64url');

/** A pwd_reset token for a user whose reset_nonce was just renewed, as the dispatcher e-mails it. */
export function createPwdResetToken(
  security: Security,
  user: ResetBinding & { username: string },
  via?: 'code',
): string {
  return createAccessToken(
    security,
    { sub: user.username, pwd: passwordFingerprint(security.SECRET_KEY, user), ...(via ? { via } : {}) },
    undefined,
    'pwd_reset',
  );
}

/**
 * True while no password change has happened since the token was issued. A token without `ver`
 * predates versions and counts as version 0: it lives until the user's first password change.
 */
export const sessionIsCurrent = (claims: TokenClaims, user: { token_version: number }) =>
  (claims.ver ?? 0) === user.token_version;

/**
 * A token from `POST /token` (a password just typed), issued within FRESH_TOKEN_MINUTES: the only
 * bearer that may set a password without giving the current one. `/refresh_token` never makes one.
 */
export function isFresh(security: Security, claims: TokenClaims, now = Date.now() / 1000): boolean {
  return claims.fresh === true && now - claims.iat <= security.FRESH_TOKEN_MINUTES * 60;
}

/**
 * The pair `POST /token` and `POST /refresh_token` answer with; `link` names the refresh token
 * family both belong to and the refresh token's one-time id.
 */
export function createTokenPair(
  security: Security,
  user: { username: string; token_version: number },
  fresh: boolean,
  link?: { fam: string; jti: string },
) {
  const data = { sub: user.username, ver: user.token_version };
  return {
    access_token: createAccessToken(security, { ...data, fresh, fam: link?.fam }),
    refresh_token: createAccessToken(security, { ...data, ...link }, undefined, 'refresh_token'),
    token_type: 'bearer' as const,
  };
}
