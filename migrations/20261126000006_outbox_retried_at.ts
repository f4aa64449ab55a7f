import type { Knex } from 'knex';

/**
 * When an operator last put the row back in line (`dundie outbox retry`). GIVE_UP_AFTER counts
 * from here when it is set, not from `created_at`: a dead row retried a day after it was queued
 * gets a full GIVE_UP_AFTER of tries again, not a single one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.timestamp('retried_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('retried_at');
  });
}
