import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    // Bumped by every password change: access and refresh tokens carry it, older ones stop working.
    t.integer('token_version').notNullable().defaultTo(0);
    // Renewed by every reset e-mail: reset tokens are bound to it, so only the newest link works.
    t.text('reset_nonce');
  });
  // At most one reset e-mail per address per cooldown; one row per address, known or not.
  await knex.schema.createTable('pwd_reset_throttle', (t) => {
    t.text('email_key').primary();
    t.bigInteger('outbox_id').notNullable();
    t.timestamp('sent_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // Fixed-window request counters shared by every instance: `key` is e.g. `reset:203.0.113.9`.
  await knex.schema.createTable('rate_limits', (t) => {
    t.text('key').primary();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.integer('hits').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
  await knex.schema.dropTable('pwd_reset_throttle');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('token_version');
    t.dropColumn('reset_nonce');
  });
}
