import type { Knex } from 'knex';

/**
 * Refresh token rotation with reuse detection (OAuth 2.0 Security BCP): a login starts a family;
 * each refresh token carries its family and a one-time id (`jti`), and only the family's
 * `current_jti` is good. Using a spent one is theft: the family is revoked (issue 13).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('refresh_token_families', (t) => {
    t.text('family').primary();
    t.integer('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('current_jti').notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index('updated_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('refresh_token_families');
}
