/**
 * The workflow's task logic, independent of Lambda: the table from each task name of
 * `workflows/definition.ts` to its handler, one module per task (`*-task.ts`) over the shared
 * `task-context.ts`. The task router (`router.ts`) dispatches by the payload's task name, in the
 * Lambda (`lambda.ts`, with middleware) and in the local engine alike. The tasks record every
 * step's status, attempts, timings and events in the store, and delegate the Microsoft 365 work
 * to the desired-state steps of `functions/domain/steps/`.
 */

import type { RetiredTaskName, TaskName } from "../../workflows/definition.ts";
import { checkAccessTask } from "./check-access-task.ts";
import { configureTask, retiredTasks } from "./configure-task.ts";
import { driftCheckTask } from "./drift-check-task.ts";
import { handOverTask } from "./hand-over-task.ts";
import { journalTask } from "./journal-task.ts";
import { offboardTask } from "./offboard-task.ts";
import { recheckPermissions } from "./recheck-permissions.ts";
import { recordOutcomeTask } from "./record-outcome-task.ts";
import { createTaskContext, type TaskDeps, type TaskHandler } from "./task-context.ts";

/** One handler per task of the workflow definitions: the task router's table. */
export function createTaskHandlers(deps: TaskDeps): Record<TaskName | RetiredTaskName, TaskHandler> {
  const ctx = createTaskContext(deps);
  const checkDrift = driftCheckTask(ctx);
  return {
    HandOver: handOverTask({ ...ctx, onStepResult: deps.onStepResult }),
    CheckAccess: checkAccessTask(ctx),
    RecheckPermissions: recheckPermissions(ctx),
    Configure: configureTask(ctx),
    Journal: journalTask(ctx, checkDrift),
    RecordOutcome: recordOutcomeTask(ctx),
    Offboard: offboardTask(ctx),
    CheckDrift: checkDrift,
    ...retiredTasks(ctx),
  };
}
