/**
 * Task `Configure`: the outbound connector, the journal settings and the distribution groups,
 * side by side (those that apply to the tenant). Also the previous release's one-step tasks
 * (`RETIRED_TASKS`), which executions started before a deploy may still call.
 */

import { CONFIGURE_STEPS, RETIRED_TASKS, type RetiredTaskName } from "../../workflows/definition.ts";
import { runSteps } from "./run-steps.ts";
import type { TaskContext, TaskHandler } from "./task-context.ts";

export function configureTask(ctx: TaskContext): TaskHandler {
  return runSteps(ctx, CONFIGURE_STEPS, "side-by-side");
}

/** Executions started before a deploy (the previous definition's tasks): each step on its own. */
export function retiredTasks(ctx: TaskContext): Record<RetiredTaskName, TaskHandler> {
  return Object.fromEntries(
    Object.entries(RETIRED_TASKS).map(([task, steps]) => [task, runSteps(ctx, steps, "side-by-side")]),
  ) as Record<RetiredTaskName, TaskHandler>;
}
