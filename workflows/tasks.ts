/**
 * What the task function and the workflow definitions agree on: the tasks, the steps each runs,
 * the outcomes RecordOutcome records and the Task states' timeouts.
 */
import type { StepName } from "../functions/domain/tenant.ts";

/**
 * The workflows' tasks. Every Task state passes its task's name as `task` in its payload, and
 * ONE task function (`TASK_FUNCTION`) routes the payload to the handler of that name
 * (`createTaskHandlers` in functions/tasks/task-handlers.ts): an onboarding's steps meet a warm
 * container and its token cache instead of one cold function each. A new task is one name here
 * and one handler there.
 */
export const WORKFLOW_TASKS = [
  "HandOver",
  "CheckAccess",
  "RecheckPermissions",
  "Configure",
  "Journal",
  "RecordOutcome",
  "Offboard",
  "CheckDrift",
] as const;
export type TaskName = (typeof WORKFLOW_TASKS)[number];

/**
 * Tasks of the previous release's definition, and the steps each ran: an execution started
 * before a deploy still calls them (for up to an hour of retries), so the task function keeps
 * serving them. They read before they write, as before.
 */
export const RETIRED_TASKS = {
  Connector: ["connector"],
  JournalSettings: ["journal-settings"],
  Groups: ["groups"],
  ValidateConnector: ["validate-connector"],
  JournalRules: ["journal-rules"],
} as const satisfies Record<string, readonly StepName[]>;
export type RetiredTaskName = keyof typeof RETIRED_TASKS;

/** The one Lambda function behind every Task state: construct id and entry. */
export const TASK_FUNCTION = { name: "WorkflowTask", entry: "functions/tasks/workflow-task.ts" } as const;

/** The steps the Configure task runs side by side (those that apply to the tenant). */
export const CONFIGURE_STEPS: readonly StepName[] = ["connector", "journal-settings", "groups"];

/** The steps of the Journal task: the validation, then the rules (those that apply to the tenant). */
export const JOURNAL_STEPS: readonly StepName[] = ["validate-connector", "journal-rules"];

/** Outcomes the RecordOutcome task records (its `outcome` input). */
export type Outcome =
  | "step_failed"
  | "awaiting_consent"
  | "awaiting_permissions"
  | "succeeded"
  | "failed"
  | "offboarding_succeeded"
  | "offboarding_failed";

/**
 * The Task states' TimeoutSeconds. The task functions' own timeout is 30 s shorter (900 s,
 * Lambda's maximum), so Lambda ends a slow invocation before Step Functions gives up on it: a
 * retry never runs beside it. Exchange gives a cmdlet up to 15 minutes; Validate-OutboundConnector,
 * Enable-OrganizationCustomization and large group creation need minutes.
 */
export const TASK_TIMEOUT_SECONDS = 930;

/** The drift check's execution (Express: at most 300 s) ends itself before AWS ends it. */
export const DRIFT_CHECK_TIMEOUT_SECONDS = 280;

/** The CheckDrift Task state's TimeoutSeconds (the task ends itself 10 s before). */
export const DRIFT_TASK_TIMEOUT_SECONDS = 240;
