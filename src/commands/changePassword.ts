/**
 * Sets a new password. In one transaction: the hash is replaced (only over the hash `user` was
 * read with, so two requests racing with one reset token cannot both succeed: the loser gets
 * undefined), every earlier session and reset token dies with the old hash (and the last reset
 * e-mail's one-time code with it), and the "your password was changed" e-mail is queued, so it
 * can neither be lost nor sent for a change that did not happen. The notice and the security
 * event say how (a reset link or code, the user's session, an administrator), when and from
 * where; the notice is written in `locale` when the request named one.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { enqueue } from '../outbox/queries.ts';
import { PWD_CHANGED_EMAIL } from '../tasks/kinds.ts';
import { hashPassword } from '../users/passwords.ts';
import { assertPasswordAllowed } from '../users/passwordPolicy.ts';
import { replacePasswordHash, type UserRow } from '../users/queries.ts';
import { recordSecurityEvent, type PasswordChangeHow, type Requester } from '../users/securityEvents.ts';
import { dropResetCode } from '../users/resetCodes.ts';

export async function changePassword(
  db: Db,
  config: Settings,
  user: UserRow,
  password: string,
  { how, requester, locale }: { how: PasswordChangeHow; requester?: Requester; locale?: string },
): Promise<UserRow | undefined> {
  assertPasswordAllowed(password, user);
  const hash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const changed = await replacePasswordHash(tx, user.id, user.password_hash, hash);
    if (changed) {
      await dropResetCode(tx, changed.email);
      const payload = {
        email: changed.email,
        username: changed.username,
        changed_at: new Date(changed.updated_at).toISOString(),
        how,
        ...(requester?.address ? { client: requester.address } : {}),
      };
      await enqueue(tx, {
        kind: PWD_CHANGED_EMAIL,
        payload: locale ? { ...payload, locale } : payload,
        maxAttempts: config.dispatcher.MAX_ATTEMPTS,
      });
      await recordSecurityEvent(tx, { kind: 'password_changed', userId: changed.id, detail: how }, requester);
    }
    return changed;
  });
}
