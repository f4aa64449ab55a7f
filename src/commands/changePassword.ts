/**
 * Sets a new password. In one transaction: the hash is replaced (only over the hash `user` was
 * read with, so two requests racing with one reset token cannot both succeed: the loser gets
 * undefined), every earlier session and reset token dies with the old hash, and the "your
 * password was changed" e-mail is queued, so it can neither be lost nor sent for a change that
 * did not happen. The notice is written in `locale` when the change came from a page.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { enqueue } from '../outbox/queries.ts';
import { PWD_CHANGED_EMAIL } from '../tasks/pwdChangedEmail.ts';
import { hashPassword } from '../users/passwords.ts';
import { assertPasswordAllowed } from '../users/passwordPolicy.ts';
import { replacePasswordHash, type UserRow } from '../users/queries.ts';

export async function changePassword(
  db: Db,
  config: Settings,
  user: UserRow,
  password: string,
  locale?: string,
): Promise<UserRow | undefined> {
  assertPasswordAllowed(password, user);
  const hash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const changed = await replacePasswordHash(tx, user.id, user.password_hash, hash);
    if (changed) {
      const payload = {
        email: changed.email,
        username: changed.username,
        changed_at: new Date(changed.updated_at).toISOString(),
      };
      await enqueue(tx, {
        kind: PWD_CHANGED_EMAIL,
        payload: locale ? { ...payload, locale } : payload,
        maxAttempts: config.dispatcher.MAX_ATTEMPTS,
      });
    }
    return changed;
  });
}
