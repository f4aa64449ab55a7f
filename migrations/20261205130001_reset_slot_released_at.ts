import type { Knex } from 'knex';

/**
 * When the e-mail that took an address's reset slot was refused (issue 21, item 9): a slot whose
 * `released_at` is not older than its `sent_at` holds no e-mail, so the next request may take it
 * at once. Expand only: a nullable column the previous release neither names nor minds; a slot it
 * takes again gets a newer `sent_at`, which makes it held again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pwd_reset_throttle ADD COLUMN released_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pwd_reset_throttle DROP COLUMN released_at');
}
