import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Every insert wakes the dispatchers in the inserting transaction itself: no extra round trip
  // for the API, and the notification is delivered only if the row is committed.
  await knex.raw(`
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('outbox', '');
      RETURN NULL;
    END
    $$
  `);
  await knex.raw(`
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
  `);
  // For operators: one line per status.
  await knex.raw(`
    CREATE VIEW outbox_summary AS
      SELECT status,
             count(*) AS count,
             min(created_at) AS oldest_created_at,
             min(run_after) FILTER (WHERE status IN ('pending', 'sending')) AS next_run_after
      FROM outbox
      GROUP BY status
  `);
  // Housekeeping deletes finished rows by age.
  await knex.raw(`CREATE INDEX outbox_finished_idx ON outbox (processed_at) WHERE status IN ('sent', 'skipped')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX outbox_finished_idx');
  await knex.raw('DROP VIEW outbox_summary');
  await knex.raw('DROP TRIGGER outbox_notify ON outbox');
  await knex.raw('DROP FUNCTION outbox_notify()');
}
