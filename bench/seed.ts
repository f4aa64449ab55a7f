/** Users for the benchmarks, in bulk, sharing one password hash. */
import type { Db } from '../src/db/database.ts';
import { hashPassword } from '../src/users/passwords.ts';

export async function seedUsers(db: Db, count: number, label: string): Promise<string[]> {
  const password_hash = await hashPassword('bench-password-123');
  const emails = Array.from({ length: count }, (_, i) => `${label}-${i}@dm.com`);
  for (let i = 0; i < count; i += 1000) {
    const chunk = emails.slice(i, i + 1000);
    await db('users').insert(
      chunk.map((email) => ({ name: email, username: email.split('@')[0], email, dept: 'sales', password_hash })),
    );
  }
  return emails;
}
