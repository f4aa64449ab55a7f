import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Mailer } from '../email/mailer.ts';

/** What every task of Dundie's task list works with. */
export interface TaskDeps {
  db: Db;
  config: Settings;
  mailer: Mailer;
}
