import type { Knex } from 'knex';

/**
 * Addresses not to mail again: a recipient refused for good (an SMTP 5xx to RCPT TO or DATA, the
 * http transport's 410 or 422) is added by the dispatcher; later e-mails to it end `skipped`
 * (`suppressed`) without a send, until an operator removes it (`dundie suppressions remove`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('email_suppressions', (t) => {
    // Lower-cased: one address, whatever case a request or a user row spells it in.
    t.text('address').primary();
    t.text('reason').notNullable();
    t.integer('refusals').notNullable().defaultTo(1);
    t.timestamp('first_seen', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('email_suppressions');
}
