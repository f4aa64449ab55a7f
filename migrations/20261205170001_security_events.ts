import type { Knex } from 'knex';

/**
 * The audit trail of who did what to an account (issue 26): reset e-mails sent or skipped,
 * password changes, logins, refresh-token reuse. Append-only: rows are inserted with what they
 * record and deleted only by housekeeping's retention; an UPDATE is refused. `user_id` has no
 * foreign key, so the trail outlives the account and deleting a user rewrites no event.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('security_events', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('kind').notNullable();
    t.integer('user_id');
    // How (a password change) or why (a refusal, a skipped e-mail); never a secret.
    t.text('detail');
    t.text('client_address');
    t.text('user_agent');
    t.text('request_id');
    // Retention deletes by age.
    t.index('at');
  });
  await knex.raw(`
    ALTER TABLE security_events
      ADD CONSTRAINT security_events_user_agent_length CHECK (char_length(user_agent) <= 256),
      ADD CONSTRAINT security_events_request_id_length CHECK (char_length(request_id) <= 128),
      ADD CONSTRAINT security_events_client_address_length CHECK (char_length(client_address) <= 64)
  `);
  // Newest first for one user: the index the account's "recent security activity" page reads.
  await knex.raw('CREATE INDEX security_events_user_at ON security_events (user_id, at DESC, id DESC)');
  await knex.raw(`
    CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'security_events is append-only';
    END $$
  `);
  await knex.raw(`
    CREATE TRIGGER security_events_append_only BEFORE UPDATE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only()
  `);
  // What an operator reads (docs/operations.md): the events with the account's current username.
  await knex.raw(`
    CREATE VIEW security_events_view AS
    SELECT e.id, e.at, e.kind, e.detail, e.user_id, u.username,
           e.client_address, e.user_agent, e.request_id
    FROM security_events e LEFT JOIN users u ON u.id = e.user_id
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP VIEW security_events_view');
  await knex.schema.dropTable('security_events');
  await knex.raw('DROP FUNCTION security_events_append_only()');
}
