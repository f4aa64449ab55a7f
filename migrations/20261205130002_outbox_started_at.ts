import type { Knex } from 'knex';

/**
 * When the dispatcher holding a row began its task (issue 21, item 8): a lapsed lease counts
 * against a row only if it had started, so the rows a crashed dispatcher held unstarted do not
 * die with the one that crashed it. Expand only: a nullable column the previous release neither
 * names nor minds. Its claims leave it as it was, so a row it held reads as started (a lapse
 * counted, as that release counts it) or as unstarted from this release's own last claim.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox ADD COLUMN started_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox DROP COLUMN started_at');
}
