/**
 * A database of its own for each test file, on the server DATABASE_URL names (the one `npm test`
 * started, or CI's), migrated by the service's own migrations and dropped at the end.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import pg from 'pg';
import { createDb, type Db, type ListenTarget } from '../../src/db/database.ts';
import { migrateLatest } from '../../src/db/migrations.ts';

export interface TestDatabase {
  db: Db;
  url: string;
  /** Where a dispatcher LISTENs: the same database without the pooler when `url` goes through one. */
  listen: ListenTarget;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `dundie_test_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  await migrateLatest(db);
  // When the suite runs through a transaction pooler, LISTEN goes to the server itself, as
  // DUNDIE_DATABASE__LISTEN_URL would have it in production.
  const direct = process.env.DUNDIE_TEST_LISTEN_URL ? new URL(process.env.DUNDIE_TEST_LISTEN_URL) : undefined;
  if (direct) direct.pathname = `/${name}`;
  return {
    db,
    url: url.toString(),
    listen: direct ? { url: direct.toString(), verified: true } : { url: url.toString(), verified: false },
    async drop() {
      await db.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}

export interface UsedTestDatabase {
  readonly db: Db;
  readonly url: string;
  readonly listen: ListenTarget;
  /** Runs `close` after the file's last test, before the database is dropped (last registered, first run). */
  teardown(close: () => unknown): void;
}

/**
 * The test file's own database: made before its first test, dropped after its last, with what
 * `teardown` registered (a service using it, say) closed first. `clean` tables are emptied
 * before each test.
 */
export function useTestDatabase(label: string, { clean = [] }: { clean?: string[] } = {}): UsedTestDatabase {
  let current: TestDatabase | undefined;
  const closers: (() => unknown)[] = [];
  const get = () => {
    if (!current) throw new Error('the test database is made in test.before: use it in a hook or a test');
    return current;
  };
  // Serial hooks: ava starts the file's own (concurrent) hooks only once these are done.
  test.serial.before(async () => {
    current = await createTestDatabase(label);
  });
  if (clean.length > 0) {
    test.serial.beforeEach(async () => {
      for (const table of clean) await get().db(table).del();
    });
  }
  test.after.always(async () => {
    for (const close of closers.reverse()) await close();
    await current?.drop();
  });
  return {
    get db() {
      return get().db;
    },
    get url() {
      return get().url;
    },
    get listen() {
      return get().listen;
    },
    teardown: (close) => void closers.push(close),
  };
}
