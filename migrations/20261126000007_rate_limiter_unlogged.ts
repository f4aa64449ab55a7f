import type { Knex } from 'knex';

/**
 * Limit counts need no write-ahead log: an unlogged table's statements commit without waiting
 * for a disk flush, which every request under a per-client limit was paying for once more than
 * its own INSERT. The price: after a PostgreSQL crash (not a clean restart) the table comes back
 * empty, and a replica does not have it, so every window starts afresh; limits that lose a
 * minute's count once per crash or failover still hold.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE rate_limiter SET UNLOGGED');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE rate_limiter SET LOGGED');
}
