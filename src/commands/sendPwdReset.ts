/**
 * Resets someone else asks for a user: a superuser through
 * `POST /user/{username}/pwd_reset/`, an operator through `dundie send-reset` and
 * `dundie reset-link`. Each is logged with who asked and recorded as a security event
 * (`admin_reset_sent`), so a reset nobody asked for themselves leaves a trace.
 */
import { newResetCode, resetCodeHash } from '../auth/resetCodes.ts';
import { createPwdResetToken, newResetNonce } from '../auth/tokens.ts';
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import type { UserRow } from '../users/queries.ts';
import { setResetCodeAndRenewNonce } from '../users/resetCodes.ts';
import { recordSecurityEvent, type Requester } from '../users/securityEvents.ts';
import { requestPwdReset } from './requestPwdReset.ts';

/** What `POST /user/{username}/pwd_reset/` answers with its 202. */
export const RESET_QUEUED = 'The reset e-mail is queued for this user.';

/**
 * Queues the reset e-mail for `user`, through the same outbox row and task as a person's own
 * request: the address's cooldown applies unless `overrideCooldown`, which is logged at warn.
 * The row and the security event commit together.
 */
export async function sendPwdReset(
  db: Db,
  config: Settings,
  log: Logger,
  user: Pick<UserRow, 'id' | 'username' | 'email'>,
  { by, overrideCooldown = false, requester }: { by: string; overrideCooldown?: boolean; requester?: Requester },
): Promise<string> {
  const id = await db.transaction(async (tx) => {
    const queued = await requestPwdReset(tx, config, user.email, { overrideCooldown, requester });
    const detail = overrideCooldown ? 'email_cooldown_overridden' : 'email';
    await recordSecurityEvent(tx, { kind: 'admin_reset_sent', userId: user.id, detail }, requester);
    return queued;
  });
  const fields = { username: user.username, by, outbox_id: id, override_cooldown: overrideCooldown };
  if (overrideCooldown) log.warn(fields, 'reset e-mail sent for a user, overriding the cooldown');
  else log.info(fields, 'reset e-mail sent for a user');
  return id;
}

/**
 * A reset link and code for a help desk to pass on (`dundie reset-link`): what a reset e-mail
 * carries, made without one, good for RESET_TOKEN_EXPIRE_MINUTES and as the newest (the link and
 * code of any earlier e-mail die). Not an e-mail, so the address's cooldown neither applies nor
 * counts it. Logged at warn: the secret leaves the system by another way than the user's mailbox.
 */
export async function makeResetLink(
  db: Db,
  config: Settings,
  log: Logger,
  user: Pick<UserRow, 'id' | 'username' | 'email'>,
  { by }: { by: string },
): Promise<{ link: string; code: string; expiresInMinutes: number }> {
  const code = newResetCode();
  const minutes = config.security.RESET_TOKEN_EXPIRE_MINUTES;
  const renewed = await db.transaction(async (tx) => {
    const made = await setResetCodeAndRenewNonce(
      tx,
      user.email,
      resetCodeHash(config.security.SECRET_KEY, code),
      newResetNonce(),
      minutes * 60,
    );
    if (made) await recordSecurityEvent(tx, { kind: 'admin_reset_sent', userId: user.id, detail: 'link_made' });
    return made;
  });
  if (!renewed) throw new Error(`no user has the address ${user.email}`);
  const token = createPwdResetToken(config.security, renewed);
  log.warn({ username: user.username, by }, 'reset link and code made for a help desk');
  return { link: `${config.security.PWD_RESET_URL}?pwd_reset_token=${token}`, code, expiresInMinutes: minutes };
}
