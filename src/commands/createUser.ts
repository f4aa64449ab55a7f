/** Creates a user (the API's `POST /user/`, the CLI's `create-user`), the password policy checked first. */
import type { Conn } from '../db/database.ts';
import { uniqueViolation } from '../db/errors.ts';
import { Conflict, PolicyViolation } from '../errors.ts';
import { mailboxProblem } from '../users/emailAddress.ts';
import { usernameFromName } from '../users/account.ts';
import { hashPassword } from '../users/passwords.ts';
import { assertPasswordAllowed } from '../users/passwordPolicy.ts';
import { insertUser, type UserRow } from '../users/queries.ts';

export interface UserToCreate {
  name: string;
  email: string;
  dept: string;
  password: string;
  currency?: string;
  username?: string;
  avatar?: string | null;
  bio?: string | null;
}

export async function createUser(db: Conn, input: UserToCreate): Promise<UserRow> {
  // Checked here too, not only at the edges: the shell calls this with whatever it is given.
  const problem = mailboxProblem(input.email);
  if (problem) throw new PolicyViolation('email', problem);
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
    const constraint = uniqueViolation(err);
    if (constraint === undefined) throw err;
    throw new Conflict(constraint === 'users_email_lower_key' ? 'Email already registered' : 'Username already taken');
  }
}
