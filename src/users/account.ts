/**
 * What is done to one account outside of a command's transaction: its default username,
 * logging in, the profile. Each takes the db (or a transaction) first, so every caller runs the
 * same code.
 */
import type { Conn } from '../db/database.ts';
import { verifyAgainstNothing, verifyPassword, type HashLane } from './passwords.ts';
import { findUserByUsername, updateProfileColumns, type UserRow } from './queries.ts';

/** Superusers are the management department's: they create users and send resets for them. */
export const isSuperuser = (user: Pick<UserRow, 'dept'>) => user.dept === 'management';

/** `Michael Scott` -> `michael-scott`: the default username of SPEC §1 and §6. */
export function usernameFromName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '-');
}

/** The user whose password this is, or undefined; equally slow either way. `lane`: whose check it is. */
export async function authenticate(
  db: Conn,
  username: string,
  password: string,
  lane: HashLane = {},
): Promise<UserRow | undefined> {
  const user = await findUserByUsername(db, username);
  if (!user) return verifyAgainstNothing(password, lane).then(() => undefined);
  return (await verifyPassword(password, user.password_hash, lane)) ? user : undefined;
}

export async function updateProfile(
  db: Conn,
  user: UserRow,
  changes: { avatar?: string | null; bio?: string | null },
): Promise<UserRow> {
  return (await updateProfileColumns(db, user.id, changes)) ?? user;
}
