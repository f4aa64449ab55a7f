/** Small factories for test data, through the same user functions the service uses. */
import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db.ts';
import { hashPassword } from '../../src/users/passwords.ts';
import { insertUser, type UserRow } from '../../src/users/queries.ts';
import { createUser, type NewUser } from '../../src/users/service.ts';

export const PASSWORD = 'correct-horse-battery';

export function makeUser(db: Db, overrides: Partial<NewUser> = {}): Promise<UserRow> {
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
    users.push(await insertUser(db, { name: `Bulk ${id}`, username: `bulk-${id}`, email: `bulk-${id}@dm.com`, dept: 'sales', currency: 'USD', password_hash }));
  }
  return users;
}
