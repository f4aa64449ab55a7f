import type { Knex } from 'knex';

/**
 * Which version of its kind's payload a row carries, so a dispatcher claims only rows it can read
 * (`outbox/queries.ts` claimDue). Expand only: a column with a default, which the previous
 * release's INSERTs and claims neither name nor mind (PostgreSQL 11+ adds it without a rewrite).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox ADD COLUMN payload_version smallint NOT NULL DEFAULT 1');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox DROP COLUMN payload_version');
}
