/** Small factories for test data, through the same user functions the service uses. */
import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/database.ts';
import { hashPassword } from '../../src/users/passwords.ts';
import { insertUser, type UserRow } from '../../src/users/queries.ts';
import { createUser, type UserToCreate } from '../../src/commands/createUser.ts';

export const PASSWORD = 'correct-horse-battery';

export function makeUser(db: Db, overrides: Partial<UserToCreate> = {}): Promise<UserRow> {
  const id = randomBytes(3).toString('hex');
  return createUser(db, {
    name: `Employee ${id}`,
    email: `employee-${id}@dm.com`,
    dept: 'sales',
    password: PASSWORD,
    ...overrides,
  });
}

/** Many users at once, sharing one password hash (scrypt is slow on purpose). */
export async function makeUsers(db: Db, count: number): Promise<UserRow[]> {
  const password_hash = await hashPassword(PASSWORD);
  const users: UserRow[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${i}-${randomBytes(3).toString('hex')}`;
    users.push(
      await insertUser(db, {
        name: `Bulk ${id}`,
        username: `bulk-${id}`,
        email: `bulk-${id}@dm.com`,
        dept: 'sales',
        currency: 'USD',
        password_hash,
      }),
    );
  }
  return users;
}

/** Users and one reset row each, inserted in bulk (thousands in a second): for the fault tests. */
export async function seedResetRequests(db: Db, count: number, label: string): Promise<string[]> {
  const password_hash = await hashPassword(PASSWORD);
  const emails = Array.from({ length: count }, (_, i) => `${label}-${i}@dm.com`);
  for (let i = 0; i < count; i += 1000) {
    const chunk = emails.slice(i, i + 1000);
    await db('users').insert(
      chunk.map((email) => ({ name: email, username: email.split('@')[0], email, dept: 'sales', password_hash })),
    );
    await db('outbox').insert(
      chunk.map((email) => ({ kind: 'pwd_reset_email', payload: { email }, max_attempts: 50 })),
    );
  }
  return emails;
}
