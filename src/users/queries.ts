/** SQL of the `users` table. */
import type { Conn } from '../db/database.ts';

export interface UserRow {
  id: number;
  name: string;
  username: string;
  email: string;
  dept: string;
  password_hash: string;
  currency: string;
  avatar: string | null;
  bio: string | null;
  token_version: number;
  reset_nonce: string | null;
  created_at: Date;
  updated_at: Date;
}

export type NewUserRow = Pick<UserRow, 'name' | 'username' | 'email' | 'dept' | 'password_hash' | 'currency'> &
  Partial<Pick<UserRow, 'avatar' | 'bio'>>;

/** PostgreSQL text never holds a NUL, so no row matches one; sent, the server would refuse the statement. */
const storable = (text: string) => !text.includes('\u0000');

export async function findUserByUsername(db: Conn, username: string): Promise<UserRow | undefined> {
  if (!storable(username)) return undefined;
  return db<UserRow>('users').where({ username }).first();
}

/** Case-insensitive, served by the unique index on lower(email). */
export async function findUserByEmail(db: Conn, email: string): Promise<UserRow | undefined> {
  if (!storable(email)) return undefined;
  return db<UserRow>('users').whereRaw('lower(email) = lower(?)', [email]).first();
}

export function listUsers(db: Conn): Promise<UserRow[]> {
  return db<UserRow>('users').orderBy('id');
}

export async function insertUser(db: Conn, row: NewUserRow): Promise<UserRow> {
  const [user] = await db<UserRow>('users').insert(row).returning('*');
  return user!;
}

export async function updateProfileColumns(
  db: Conn,
  id: number,
  changes: Partial<Pick<UserRow, 'avatar' | 'bio'>>,
): Promise<UserRow | undefined> {
  const [user] = await db<UserRow>('users')
    .where({ id })
    .update({ ...changes, updated_at: db.fn.now() as unknown as Date })
    .returning('*');
  return user;
}

/**
 * Replaces the password hash, only over the hash it was read with (`expectedHash`), and bumps
 * token_version so every access and refresh token issued before stops working.
 */
export async function replacePasswordHash(
  db: Conn,
  id: number,
  expectedHash: string,
  hash: string,
): Promise<UserRow | undefined> {
  const [user] = await db<UserRow>('users')
    .where({ id, password_hash: expectedHash })
    .update({
      password_hash: hash,
      token_version: db.raw('token_version + 1'),
      updated_at: db.fn.now() as unknown as Date,
    })
    .returning('*');
  return user;
}
