import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Mailer } from '../email/mailer.ts';

/** What every task of Dundie's task list works with. */
export interface TaskDeps {
  db: Db;
  config: Settings;
  mailer: Mailer;
}

/** The language of the request that queued the row, when it named one (the mailer falls back to the default). */
export const localeOf = (payload: Record<string, unknown>) =>
  typeof payload.locale === 'string' ? payload.locale : undefined;
