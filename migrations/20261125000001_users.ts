import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id');
    t.text('name').notNullable();
    t.text('username').notNullable().unique();
    t.text('email').notNullable();
    t.text('dept').notNullable();
    t.text('password_hash').notNullable();
    t.text('currency').notNullable().defaultTo('USD');
    t.text('avatar');
    t.text('bio');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // E-mail is unique regardless of case, and the dispatcher looks users up the same way.
  await knex.raw('CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
