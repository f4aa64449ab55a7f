import type { Knex } from 'knex';

/**
 * The one-time code a reset e-mail carries beside its link (issue 25, item 1), kept with the
 * address's reset slot: the statement that takes the slot and renews the user's reset nonce (the
 * link's binding) writes the code's keyed hash in the same row, so a newer e-mail replaces both,
 * and a slot exists for an address whether or not it has an account (the code's exchange costs
 * the same either way). `code_tries` counts guesses; the exchange refuses past 5. Expand only:
 * nullable columns and a default the previous release neither names nor minds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE pwd_reset_throttle
      ADD COLUMN code_hash text,
      ADD COLUMN code_expires_at timestamptz,
      ADD COLUMN code_tries integer NOT NULL DEFAULT 0
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE pwd_reset_throttle
      DROP COLUMN code_hash,
      DROP COLUMN code_expires_at,
      DROP COLUMN code_tries
  `);
}
