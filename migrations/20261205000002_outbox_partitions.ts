import type { Knex } from 'knex';

/**
 * The outbox partitioned (issue 20, item 5: deleting millions of finished rows cost minutes of a
 * slower queue and left the space behind). `outbox` is partitioned by LIST on status:
 * `outbox_live` holds what can still change (`pending`, `sending`, `dead`), `outbox_done` what is
 * finished (`sent`, `skipped`), itself partitioned by RANGE on `processed_at`, a partition per UTC
 * day, which housekeeping makes ahead and drops past RETENTION_DAYS (`src/outbox/partitions.ts`),
 * and a default partition for days it did not make. Finishing a row moves it from the one to the
 * other; the columns and the statements the previous release runs stay the same.
 *
 * Rows already there are kept without a copy of the finished ones: the old table, emptied of
 * its live rows, becomes the partition of every day up to tomorrow, dropped whole once all of it
 * is past retention. That takes one scan of it (the partition's bound is checked) under the
 * table's lock, which this migration holds from its first statement: enqueues wait meanwhile.
 */
export async function up(knex: Knex): Promise<void> {
  // Day bounds are UTC midnights: in a zone with daylight saving, adding a day would add 23 or 25 hours.
  await knex.raw("SET LOCAL timezone = 'UTC'");
  await knex.raw('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
  await knex.raw('DROP VIEW outbox_summary');
  await knex.raw('DROP TRIGGER outbox_notify ON outbox');
  await knex.raw('ALTER TABLE outbox RENAME TO outbox_done_legacy');
  await knex.raw('ALTER INDEX outbox_pkey RENAME TO outbox_done_legacy_pkey');
  await knex.raw('DROP INDEX outbox_due_idx');
  // Kept: the previous release's housekeeping, still running during a rolling deploy, deletes by it.
  await knex.raw('ALTER INDEX outbox_finished_idx RENAME TO outbox_done_legacy_finished_idx');

  await knex.raw(`
    CREATE TABLE outbox (LIKE outbox_done_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
      PARTITION BY LIST (status)
  `);
  // The ids go on from the same sequence, which must not go when the old table is dropped.
  await knex.raw('ALTER SEQUENCE outbox_id_seq OWNED BY outbox.id');

  await knex.raw(`CREATE TABLE outbox_live PARTITION OF outbox FOR VALUES IN ('pending', 'sending', 'dead')`);
  await knex.raw('ALTER TABLE outbox_live ADD PRIMARY KEY (id)');
  // Claiming reads only rows that can be due: a 'sending' row's run_after is its lease's end,
  // so one range scan finds both new work and work whose dispatcher died.
  await knex.raw(`CREATE INDEX outbox_due_idx ON outbox_live (run_after, id) WHERE status IN ('pending', 'sending')`);

  await knex.raw(`
    CREATE TABLE outbox_done PARTITION OF outbox FOR VALUES IN ('sent', 'skipped')
      PARTITION BY RANGE (processed_at)
  `);
  // A finished row without its time would sit in the default partition for ever, past any retention.
  await knex.raw('ALTER TABLE outbox_done ADD CONSTRAINT outbox_done_processed_check CHECK (processed_at IS NOT NULL)');
  await knex.raw('CREATE TABLE outbox_done_default PARTITION OF outbox_done DEFAULT');
  await knex.raw('ALTER TABLE outbox_done_default ADD PRIMARY KEY (id)');
  // Housekeeping deletes this partition's rows by age, as it did the whole table's.
  await knex.raw('CREATE INDEX outbox_done_default_processed_idx ON outbox_done_default (processed_at)');

  await knex.raw(`
    WITH moved AS (
      DELETE FROM outbox_done_legacy WHERE status IN ('pending', 'sending', 'dead') RETURNING *
    )
    INSERT INTO outbox SELECT * FROM moved
  `);
  const tomorrow = "date_trunc('day', now()) + interval '1 day'";
  const {
    rows: [old],
  } = await knex.raw<{ rows: { any: boolean }[] }>('SELECT EXISTS (SELECT FROM outbox_done_legacy) AS any');
  let firstDay: string;
  if (old!.any) {
    // A finished row always has a processed_at, and not a future one (a skewed clock, a hand-made
    // row): the old table holds every day up to tomorrow, and day partitions start there.
    await knex.raw(`
      UPDATE outbox_done_legacy SET processed_at = least(coalesce(processed_at, updated_at), now())
      WHERE processed_at IS NULL OR processed_at > now()
    `);
    await knex.raw(
      'ALTER TABLE outbox_done_legacy ADD CONSTRAINT outbox_done_processed_check CHECK (processed_at IS NOT NULL)',
    );
    await knex.raw(
      `ALTER TABLE outbox_done ATTACH PARTITION outbox_done_legacy FOR VALUES FROM (MINVALUE) TO (${tomorrow})`,
    );
    firstDay = tomorrow;
  } else {
    await knex.raw('DROP TABLE outbox_done_legacy');
    firstDay = `${tomorrow} - interval '1 day'`;
  }
  // Today (unless the old rows cover it) and the next three days; housekeeping keeps it so.
  await knex.raw(`
    DO $$
    DECLARE
      day timestamptz;
      name text;
    BEGIN
      FOR day IN SELECT generate_series(${firstDay}, ${tomorrow} + interval '2 days', interval '1 day') LOOP
        name := 'outbox_done_' || to_char(day, 'YYYYMMDD');
        EXECUTE format('CREATE TABLE %I PARTITION OF outbox_done FOR VALUES FROM (%L) TO (%L)', name, day, day + interval '1 day');
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id)', name);
      END LOOP;
    END
    $$
  `);

  await addNotifyTriggerAndSummary(knex);
}

/** Back to one table: every row copied (the one-table layout's indexes, trigger and view again). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
  await knex.raw('DROP INDEX IF EXISTS outbox_done_legacy_finished_idx');
  await knex.raw('DROP VIEW outbox_summary');
  await knex.raw('CREATE TABLE outbox_flat (LIKE outbox INCLUDING DEFAULTS INCLUDING CONSTRAINTS)');
  await knex.raw('INSERT INTO outbox_flat SELECT * FROM outbox');
  await knex.raw('ALTER SEQUENCE outbox_id_seq OWNED BY outbox_flat.id');
  await knex.raw('DROP TABLE outbox');
  await knex.raw('ALTER TABLE outbox_flat RENAME TO outbox');
  await knex.raw('ALTER TABLE outbox ADD CONSTRAINT outbox_pkey PRIMARY KEY (id)');
  await knex.raw(`CREATE INDEX outbox_due_idx ON outbox (run_after, id) WHERE status IN ('pending', 'sending')`);
  await knex.raw(`CREATE INDEX outbox_finished_idx ON outbox (processed_at) WHERE status IN ('sent', 'skipped')`);
  await addNotifyTriggerAndSummary(knex);
}

/** The NOTIFY trigger and the operators' view, on whichever `outbox` the migration leaves. */
async function addNotifyTriggerAndSummary(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
      FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
  `);
  await knex.raw(`
    CREATE VIEW outbox_summary AS
      SELECT status,
             count(*) AS count,
             min(created_at) AS oldest_created_at,
             min(run_after) FILTER (WHERE status IN ('pending', 'sending')) AS next_run_after
      FROM outbox
      GROUP BY status
  `);
}
