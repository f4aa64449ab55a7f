/**
 * Dundie's e-mail dispatcher: the generic dispatcher with Dundie's task list and a mailer of its own,
 * so the service, its thread, the CLI, the shell and the tests all dispatch with the same tasks.
 */
import type { Settings } from '../config.ts';
import type { Db } from '../db/database.ts';
import { createMailer } from '../email/mailer.ts';
import type { Logger } from '../log.ts';
import { Dispatcher, newWorkerId, type DispatcherOptions } from '../outbox/dispatcher.ts';
import type { DispatchMetrics } from '../outbox/processRow.ts';
import type { TaskList } from '../outbox/taskList.ts';
import { pwdChangedEmailTask } from './pwdChangedEmail.ts';
import type { TaskDeps } from './deps.ts';
import { PWD_CHANGED_EMAIL, PWD_RESET_EMAIL } from './kinds.ts';
import { pwdResetEmailTask } from './pwdResetEmail.ts';

export function createTaskList(deps: TaskDeps): TaskList {
  return {
    [PWD_RESET_EMAIL]: pwdResetEmailTask(deps),
    [PWD_CHANGED_EMAIL]: pwdChangedEmailTask(deps),
  };
}

export interface EmailDispatcherDeps {
  db: Db;
  config: Settings;
  log: Logger;
  metrics?: DispatchMetrics;
  /** Written to `locked_by`; a fresh one (host, pid, random) unless a test names it. */
  workerId?: string;
}

/**
 * Starts a dispatcher of Dundie's e-mails: continuous (the service), or once (`continuous: false`:
 * the CLI, the shell, the tests), whose `done` tells how the rows ended. Its mailer closes when it
 * has stopped.
 */
export function createEmailDispatcher(
  { db, config, log, metrics, workerId = newWorkerId() }: EmailDispatcherDeps,
  options: DispatcherOptions = {},
): Dispatcher {
  const mailer = createMailer(config.email);
  const deps = {
    db,
    tasks: createTaskList({ db, config, mailer }),
    settings: config.dispatcher,
    log,
    workerId,
    metrics,
  };
  return new Dispatcher(deps, { ...options, close: () => mailer.close() });
}
