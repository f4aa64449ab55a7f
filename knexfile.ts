/**
 * For the knex CLI (`npx knex migrate:latest`): the same database and migrations the service
 * uses. The service itself migrates on start; this is for operators who want to do it by hand.
 */
import { loadConfig } from './src/config.ts';
import { migrationConfig } from './src/db/migrations.ts';

const config = loadConfig();
if (!config.databaseUrl) {
  throw new Error(
    'knexfile: set DATABASE_URL (or use `npm run dundie -- migrate`, which also works with the embedded PostgreSQL)',
  );
}

export default {
  client: 'pg',
  connection: config.databaseUrl,
  migrations: migrationConfig,
};
