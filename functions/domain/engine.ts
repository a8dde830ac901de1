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

export interface WorkflowEngine {
  start(kind: WorkflowKind, input: WorkflowInput): Promise<void>;
}

export function executionName(kind: WorkflowKind, input: WorkflowInput): string {
  // Step Functions names: 1-80 chars of [A-Za-z0-9-_].
  return `${kind === "onboarding" ? "on" : "off"}-${input.tenantId}-${input.run}`;
}
