import type { Knex } from 'knex';

/**
 * How many times a row's lease lapsed while it was being sent (the dispatcher crashed, was killed
 * or hung): a row found abandoned `max_attempts` times goes `dead` instead of being claimed again,
 * so a row that kills the process every time does not do so forever (issue 14, item 4).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.integer('lease_lapses').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('lease_lapses');
  });
}
