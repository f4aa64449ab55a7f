/**
 * The user functions: what the API, the CLI and the shell do to users. Each takes the db (or a
 * transaction) first, so every caller runs the same code.
 */
import type { Settings } from '../config.ts';
import type { Db, Tx } from '../db.ts';
import { conflict } from '../errors.ts';
import { queuePwdChangedEmail } from '../outbox/pwdChangedEmail.ts';
import { hashPassword, verifyAgainstNothing, verifyPassword } from './passwords.ts';
import { assertPasswordAllowed } from './passwordPolicy.ts';
import { findUserByUsername, insertUser, replacePasswordHash, updateProfile as updateProfileRow, type UserRow } from './queries.ts';

type Conn = Db | Tx;

export interface NewUser {
  name: string;
  email: string;
  dept: string;
  password: string;
  currency?: string;
  username?: string;
  avatar?: string | null;
  bio?: string | null;
}

/** `Michael Scott` -> `michael-scott`, as the first API did. */
export function usernameFromName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '-');
}

const isUniqueViolation = (err: unknown): err is { constraint?: string } =>
  (err as { code?: string }).code === '23505';

export async function createUser(db: Conn, input: NewUser): Promise<UserRow> {
  const username = input.username ?? usernameFromName(input.name);
  assertPasswordAllowed(input.password, { username, email: input.email });
  const row = {
    name: input.name,
    username,
    email: input.email,
    dept: input.dept,
    currency: input.currency ?? 'USD',
    avatar: input.avatar ?? null,
    bio: input.bio ?? null,
    password_hash: await hashPassword(input.password),
  };
  try {
    return await insertUser(db, row);
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw conflict(err.constraint === 'users_email_lower_key' ? 'Email already registered' : 'Username already taken');
    }
    throw err;
  }
}

/** The user whose password this is, or undefined; equally slow either way. */
export async function authenticate(db: Conn, username: string, password: string): Promise<UserRow | undefined> {
  const user = await findUserByUsername(db, username);
  if (!user) return verifyAgainstNothing(password).then(() => undefined);
  return (await verifyPassword(password, user.password_hash)) ? user : undefined;
}

/**
 * Sets a new password. In one transaction: the hash is replaced (only over the hash `user` was
 * read with, so two requests racing with one reset token cannot both succeed: the loser gets
 * undefined), every earlier session and reset token dies with the old hash, and the "your
 * password was changed" e-mail is queued (in `locale`, when the change came from a page).
 */
export async function changePassword(db: Db, config: Settings, user: UserRow, password: string, locale?: string): Promise<UserRow | undefined> {
  assertPasswordAllowed(password, user);
  const hash = await hashPassword(password);
  return db.transaction(async (tx) => {
    const changed = await replacePasswordHash(tx, user.id, user.password_hash, hash);
    if (changed) await queuePwdChangedEmail(tx, config, changed, locale);
    return changed;
  });
}

export async function updateProfile(
  db: Conn,
  user: UserRow,
  changes: { avatar?: string | null; bio?: string | null },
): Promise<UserRow> {
  return (await updateProfileRow(db, user.id, changes)) ?? user;
}
