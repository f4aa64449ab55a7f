import type { Knex } from 'knex';

/**
 * One table for every limit, in the shape rate-limiter-flexible's PostgreSQL store reads and
 * writes with one atomic upsert (`key` is `<limit>:<subject>`, `expire` epoch milliseconds). It
 * replaces `rate_limits`, whose login-failure counter was read before the password check and
 * written after it, so parallel guesses all passed (issue 13).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limiter', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
  await knex.schema.dropTable('rate_limits');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.text('key').primary();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.integer('hits').notNullable();
  });
  await knex.schema.dropTable('rate_limiter');
}
