/**
 * The AWS workflow engine: Step Functions Standard executions. Execution names derive from the
 * tenant and its run counter, so a duplicate start (a retried API call) is harmless.
 *
 * Retries start a new execution (run + 1) rather than RedriveExecution: every failure in our
 * definition is caught and recorded, so the failed execution ended in a Fail state, which a
 * redrive would only repeat; the new execution skips the steps that already succeeded.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import {
  type DriftCheckInput,
  type DriftCheckStarter,
  driftExecutionName,
  type ExecutionDescription,
  type ExecutionStatus,
  executionName,
  type WorkflowEngine,
  type WorkflowInput,
  type WorkflowKind,
} from "../../domain/engine.ts";

export interface SfnEngineOptions {
  client?: SFNClient;
  stateMachineArns: Record<WorkflowKind, string>;
  /** The drift check state machine (Express); without it drift checks cannot be started. */
  driftStateMachineArn?: string;
}

export class StepFunctionsEngine implements WorkflowEngine, DriftCheckStarter {
  readonly #client: SFNClient;
  readonly #arns: Record<WorkflowKind, string>;
  readonly #driftArn: string | undefined;

  constructor(options: SfnEngineOptions) {
    this.#client = options.client ?? new SFNClient({});
    this.#arns = options.stateMachineArns;
    this.#driftArn = options.driftStateMachineArn;
  }

  async startDriftCheck(input: DriftCheckInput): Promise<void> {
    if (!this.#driftArn) throw new Error("DRIFT_STATE_MACHINE_ARN is not set");
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#driftArn,
          name: driftExecutionName(input),
          input: JSON.stringify(input),
        }),
      );
    } catch (err) {
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
    }
  }

  async start(kind: WorkflowKind, input: WorkflowInput): Promise<void> {
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#arns[kind],
          name: executionName(kind, input),
          input: JSON.stringify({ tenantId: input.tenantId, run: input.run }),
        }),
      );
    } catch (err) {
      // Same name and same input: Step Functions says it exists; the start already happened.
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
    }
  }

  async describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const name = executionName(kind, input);
    // An execution ARN is the state machine ARN with `stateMachine` -> `execution` plus the name.
    const executionArn = `${this.#arns[kind].replace(":stateMachine:", ":execution:")}:${name}`;
    try {
      const out = await this.#client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        name,
        status: (out.status ?? "RUNNING") as ExecutionStatus,
        startedAt: (out.startDate ?? new Date()).toISOString(),
        ...(out.stopDate && { stoppedAt: out.stopDate.toISOString() }),
        ...(out.error && { error: `${out.error}: ${out.cause ?? ""}` }),
      };
    } catch (err) {
      if (err instanceof ExecutionDoesNotExist) return undefined;
      throw err;
    }
  }
}
