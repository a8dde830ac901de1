/**
 * The port to the workflow engine: AWS Step Functions in the cloud, aws-local-stepfunctions
 * running the very same definition locally (`functions/adapters/workflow/`).
 *
 * Execution names derive from the tenant id, the kind and the tenant's `run` counter, so
 * starting the same run twice is harmless (the second start is a no-op).
 */
export type WorkflowKind = "onboarding" | "offboarding";

export interface WorkflowInput {
  tenantId: string;
  run: number;
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

export function executionName(kind: WorkflowKind, input: WorkflowInput): string {
  // Step Functions names: 1-80 chars of [A-Za-z0-9-_].
  return `${kind === "onboarding" ? "on" : "off"}-${input.tenantId}-${input.run}`;
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
