/**
 * The reset e-mail, both halves: the request only queues the address (no lookup, so its cost is
 * the same for every address); the dispatcher later looks the user up and sends the link.
 */
import { randomBytes } from 'node:crypto';
import { createPwdResetToken } from '../auth/tokens.ts';
import type { Settings } from '../config.ts';
import type { Db, Tx } from '../db.ts';
import { renewResetNonceByEmail } from '../users/queries.ts';
import { EnqueueBatcher } from './enqueueBatcher.ts';
import type { Mailer } from './mailer.ts';
import { enqueue } from './queries.ts';
import type { ResetUser } from './throttle.ts';

export const PWD_RESET_EMAIL = 'pwd_reset_email';
export const PWD_RESET_MESSAGE = 'If we found a user with that email, we sent a password reset token to it.';
export const NO_SUCH_USER = 'no user with this email';
export const THROTTLED = 'throttled';

/**
 * Queues a reset e-mail for `email`, whoever it belongs to: through `db` (or a transaction), or
 * through the API's batcher, which shares one INSERT among the requests that arrive together.
 * `locale`, when the request named one, is kept in the payload: the e-mail is written in it.
 */
export function requestPwdReset(db: Db | Tx | EnqueueBatcher, config: Settings, email: string, locale?: string): Promise<string> {
  const row = { kind: PWD_RESET_EMAIL, payload: locale ? { email, locale } : { email }, maxAttempts: config.dispatcher.MAX_ATTEMPTS };
  return db instanceof EnqueueBatcher ? db.enqueue(row) : enqueue(db, row);
}

export type SendOutcome = { sent: true } | { sent: false; skipped: string };

export const newResetNonce = () => randomBytes(12).toString('base64url');

type Deps = { db: Db | Tx; config: Settings; mailer: Mailer };

/** Makes the token (bound to the password and the nonce just renewed) and sends the link. */
export async function sendPwdResetEmail(
  { config, mailer }: Deps,
  user: ResetUser,
  locale?: string,
): Promise<void> {
  await mailer.send('pwd_reset_email', {
    sender: config.email.smtp_sender,
    to: user.email,
    url: config.security.PWD_RESET_URL,
    pwd_reset_token: createPwdResetToken(config.security, user),
    expire: config.security.RESET_TOKEN_EXPIRE_MINUTES,
  }, locale);
}

/**
 * The twin of the first API's `try_to_send_pwd_reset_email`: finds the user and renews the reset
 * nonce (so every earlier link dies) in one statement, makes a short-lived `pwd_reset` token
 * bound to the current password and the new nonce, and sends the link. Throws when sending fails.
 */
export async function tryToSendPwdResetEmail(deps: Deps, email: string): Promise<SendOutcome> {
  const user = await renewResetNonceByEmail(deps.db, email, newResetNonce());
  if (!user) return { sent: false, skipped: NO_SUCH_USER };
  await sendPwdResetEmail(deps, user);
  return { sent: true };
}
