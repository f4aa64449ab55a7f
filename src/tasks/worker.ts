/**
 * Dundie's outbox worker: the generic dispatcher's dependencies with Dundie's task list, so the
 * service, the CLI, the shell and the tests all dispatch with the same tasks.
 */
import type { Logger } from '../log.ts';
import { newWorkerId } from '../outbox/dispatcher.ts';
import type { DispatchMetrics, WorkerDeps } from '../outbox/processRow.ts';
import type { TaskList } from '../outbox/tasks.ts';
import { PWD_CHANGED_EMAIL, pwdChangedEmailTask } from './pwdChangedEmail.ts';
import type { TaskDeps } from './deps.ts';
import { PWD_RESET_EMAIL, pwdResetEmailTask } from './pwdResetEmail.ts';

export function createTaskList(deps: TaskDeps): TaskList {
  return {
    [PWD_RESET_EMAIL]: pwdResetEmailTask(deps),
    [PWD_CHANGED_EMAIL]: pwdChangedEmailTask(deps),
  };
}

export function emailWorker(
  deps: TaskDeps & { log: Logger; workerId?: string; metrics?: DispatchMetrics },
): WorkerDeps {
  return {
    db: deps.db,
    tasks: createTaskList(deps),
    settings: deps.config.dispatcher,
    log: deps.log,
    workerId: deps.workerId ?? newWorkerId(),
    metrics: deps.metrics,
  };
}
