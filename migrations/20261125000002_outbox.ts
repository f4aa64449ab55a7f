import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id');
    t.text('kind').notNullable();
    t.jsonb('payload').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable().defaultTo(8);
    t.timestamp('run_after', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('locked_until', { useTz: true });
    t.text('locked_by');
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('processed_at', { useTz: true });
  });
  await knex.raw(`
    ALTER TABLE outbox
      ADD CONSTRAINT outbox_status_check
        CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'dead')),
      ADD CONSTRAINT outbox_attempts_check
        CHECK (attempts >= 0 AND max_attempts >= 1)
  `);
  // Claiming reads only rows that can be due: a 'sending' row's run_after is its lease's end,
  // so one range scan finds both new work and work whose dispatcher died.
  await knex.raw(`
    CREATE INDEX outbox_due_idx ON outbox (run_after, id)
      WHERE status IN ('pending', 'sending')
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
}
