/**
 * The task router: every Task state of every workflow calls ONE task function with its task's
 * name as `task` in the payload (`workflows/definition.ts`), and the router hands the rest of the
 * payload to the handler of that name in the table (`createTaskHandlers`). The task Lambda
 * (`lambda.ts`) and the local engine both dispatch through it, so both forms route alike.
 */

import type { RetiredTaskName, TaskName } from "../../workflows/definition.ts";
import type { TaskHandler, TaskInput } from "./task-context.ts";

/** The payload of every Task state: the task's input and which task it is. */
export type RoutedTaskInput = TaskInput & { task: TaskName | RetiredTaskName };

export interface TaskRouter {
  /** Runs the task the payload names; a name the table does not hold fails (a definition bug). */
  (input: RoutedTaskInput): Promise<unknown>;
  /** Whether the table holds a handler for `task`. */
  handles(task: unknown): boolean;
}

export function createTaskRouter(table: Readonly<Record<string, TaskHandler>>): TaskRouter {
  const handles = (task: unknown): task is string => typeof task === "string" && Object.hasOwn(table, task);
  const route = async (input: RoutedTaskInput) => {
    const { task, ...rest } = input;
    if (!handles(task)) throw new Error(`Unknown workflow task ${JSON.stringify(task)}.`);
    return (table[task] as TaskHandler)(rest);
  };
  return Object.assign(route, { handles });
}
