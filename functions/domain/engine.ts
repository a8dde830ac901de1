/**
 * The port to the workflow engine: AWS Step Functions in the cloud, aws-local-stepfunctions
 * running the very same definition locally (`functions/adapters/workflow/`).
 *
 * Execution names derive from the tenant id, the kind, the tenant record's incarnation and its
 * `run` counter, so starting the same run twice is harmless (the second start is a no-op), and a
 * tenant registered again after its old record expired (`run` starts at 1 again) never meets
 * the names of the old record's executions (Step Functions keeps them 90 days).
 */
import type { StoredTenant } from "./store.ts";
import { HAND_OVER_STEP } from "./tenant.ts";

export type WorkflowKind = "onboarding" | "offboarding";

export interface WorkflowInput {
  tenantId: string;
  run: number;
  /**
   * The tenant record's incarnation (a new one per registration). Absent for records registered
   * before incarnations existed: their executions keep the names they were started with.
   */
  incarnation?: string;
  /** The record took the tenant over and its hand-over is not done: the workflow's first state runs it. */
  handOver?: true;
}

/** The input of the tenant's current run. */
export function workflowInput(stored: StoredTenant): WorkflowInput {
  const { run, incarnation } = stored.internals;
  const handOver = stored.tenant.steps.some((s) => s.name === HAND_OVER_STEP && s.status !== "succeeded");
  return {
    tenantId: stored.tenant.tenantId,
    run,
    ...(incarnation !== undefined && { incarnation }),
    ...(handOver && { handOver: true }),
  };
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** What the engine knows of one execution (the tenant's own state is in the store). */
export interface ExecutionDescription {
  name: string;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt?: string;
  /** The engine's error name and cause, for a failed execution. */
  error?: string;
}

/**
 * Starting is the only operation the product needs: a retry is a new run (see the Step
 * Functions adapter for why not RedriveExecution). `describe` serves ops and tests.
 */
export interface WorkflowEngine {
  start(kind: WorkflowKind, input: WorkflowInput): Promise<void>;
  /** The execution of that run, if the engine has it. */
  describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined>;
  /**
   * `describe` answers what `start` did at once (the local engine). Step Functions'
   * DescribeExecution is eventually consistent: an execution just started may not be found yet,
   * so a verdict on it needs confirming. @default false
   */
  readonly consistentDescribe?: boolean;
}

/** Step Functions' execution names: 1-80 characters of [A-Za-z0-9-_]. */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** `on-<tenantId>-<incarnation>-<run>` (`on-<tenantId>-<run>` for records without an incarnation). */
export function executionName(kind: WorkflowKind, input: WorkflowInput): string {
  const prefix = kind === "onboarding" ? "on" : "off";
  const record = input.incarnation === undefined ? "" : `-${input.incarnation}`;
  const name = `${prefix}-${input.tenantId}${record}-${input.run}`;
  if (!EXECUTION_NAME.test(name)) throw new RangeError(`not a Step Functions execution name: ${name}`);
  return name;
}

/**
 * Step Functions already has an execution of this name, closed or with another input (it answers
 * a repeated start of a running execution with the same input as a success): starting it again
 * would do nothing, so the run would never start. Carries what DescribeExecution said of it.
 */
export class ExecutionNameTakenError extends Error {
  override readonly name = "ExecutionNameTakenError";
}

/** A drift check of one tenant: reads only; `check` makes each check's execution name unique. */
export interface DriftCheckInput {
  tenantId: string;
  /**
   * The tenant's run when the check was asked for: a check of an older run records nothing.
   * 0 (the schedule, which lists tenants without their run): whatever run is current.
   */
  run: number;
  check: string;
}

/** Starts drift checks (their own state machine, from the same definition file). */
export interface DriftCheckStarter {
  startDriftCheck(input: DriftCheckInput): Promise<void>;
}

export function driftExecutionName(input: DriftCheckInput): string {
  // 6 + 36 + 1 + check (<= 37) <= 80, Step Functions' limit.
  return `drift-${input.tenantId}-${input.check.slice(0, 37)}`;
}
