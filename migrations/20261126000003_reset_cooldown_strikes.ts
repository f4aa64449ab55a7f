import type { Knex } from 'knex';

/**
 * The reset cooldown escalates per address (issue 13): `strikes` counts the e-mails sent to it in
 * a row, each doubling the wait before the next (60 s, 120 s, ... up to an hour); a quiet day
 * starts it over.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pwd_reset_throttle', (t) => {
    t.integer('strikes').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pwd_reset_throttle', (t) => {
    t.dropColumn('strikes');
  });
}
