/**
 * The AWS workflow engine: Step Functions Standard executions. Execution names derive from the
 * tenant record and its run counter, so a duplicate start (a retried API call) is harmless:
 * Step Functions answers a start of a running execution with the same name and input as a
 * success. ExecutionAlreadyExists (a closed execution of that name, or another input) is a real
 * clash: the run would never start, so it fails loudly (ExecutionNameTakenError) and the caller
 * records the tenant failed instead of leaving it queued.
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
  ExecutionNameTakenError,
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
    const name = executionName(kind, input);
    try {
      await this.#client.send(
        new StartExecutionCommand({
          stateMachineArn: this.#arns[kind],
          name,
          input: JSON.stringify({
            tenantId: input.tenantId,
            run: input.run,
            ...(input.handOver && { handOver: true }),
          }),
        }),
      );
    } catch (err) {
      if (!(err instanceof ExecutionAlreadyExists)) throw err;
      const taken = await this.describe(kind, input).catch(() => undefined);
      const what = taken ? `${taken.status}, started ${taken.startedAt}` : "not describable";
      throw new ExecutionNameTakenError(
        `Step Functions already has an execution named ${name} (${what}): this run was not started.`,
        { cause: err },
      );
    }
  }

  async describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const name = executionName(kind, input);
    const executionArn = executionArnOf(this.#arns[kind], name);
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

/** An execution's ARN: its state machine's ARN with `stateMachine` -> `execution`, plus its name. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}
