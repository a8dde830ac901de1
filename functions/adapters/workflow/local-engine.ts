/**
 * The local workflow engine: aws-local-stepfunctions runs the very definition that AWS runs,
 * every Task state's Resource the one task function, as in AWS, and each invocation of it the
 * in-process task router that function runs (`functions/tasks/router.ts`): the payload's `task`
 * picks the handler in both forms.
 */
import { type RunOptions, StateMachine } from "aws-local-stepfunctions";
import type { TaskRouter } from "../../../functions/tasks/router.ts";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  TASK_FUNCTION,
  taskStates,
} from "../../../workflows/definition.ts";
import {
  type DriftCheckInput,
  type DriftCheckStarter,
  driftExecutionName,
  type ExecutionDescription,
  executionName,
  type WorkflowEngine,
  type WorkflowInput,
  type WorkflowKind,
} from "../../domain/engine.ts";

export interface LocalEngineOptions {
  /** The task function's router, over the task handlers' table (`createTaskRouter`). */
  route: TaskRouter;
  /**
   * Multiplies every Retry interval (1 = as in AWS). Tests and demos use a small factor so that
   * the same retry schedule runs in milliseconds. Note: with a factor the local engine does not
   * apply jitter.
   */
  retryScale?: number;
  /** Told when an execution ends (logs, and recording runs that ended without an outcome). */
  onExecutionEnd?: (
    name: string,
    result: {
      status: "SUCCEEDED" | "FAILED" | "ABORTED";
      error?: string;
      kind: WorkflowKind;
      input: WorkflowInput;
    },
  ) => void;
}

export interface ExecutionRecord {
  name: string;
  kind: WorkflowKind;
  input: WorkflowInput;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  error?: string;
  startedAt: string;
  stoppedAt?: string;
}

type LocalHandlers = NonNullable<NonNullable<RunOptions["overrides"]>["taskResourceLocalHandlers"]>;

/** The one task function's ARN: every Task state's Resource, as in the deployed definition. */
const taskFunctionArn = () => `arn:aws:lambda:us-east-1:000000000000:function:${TASK_FUNCTION.name}`;

/** A drift check as the local engine keeps it. */
export interface DriftExecutionRecord {
  name: string;
  input: DriftCheckInput;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  error?: string;
}

export class LocalWorkflowEngine implements WorkflowEngine, DriftCheckStarter {
  /** Executions are in this process: `describe` sees a start at once. */
  readonly consistentDescribe = true;
  readonly #machines: Record<WorkflowKind, StateMachine>;
  readonly #overrides: Record<WorkflowKind, NonNullable<RunOptions["overrides"]>>;
  readonly #driftMachine: StateMachine;
  readonly #driftOverrides: NonNullable<RunOptions["overrides"]>;
  readonly #driftExecutions = new Map<string, DriftExecutionRecord>();
  readonly #executions = new Map<string, ExecutionRecord>();
  readonly #running = new Map<string, { promise: Promise<void>; abort: () => void }>();
  readonly #options: LocalEngineOptions;

  constructor(options: LocalEngineOptions) {
    this.#options = options;
    const definitions = {
      onboarding: onboardingDefinition(taskFunctionArn),
      offboarding: offboardingDefinition(taskFunctionArn),
    };
    const scale = options.retryScale ?? 1;
    const { route } = options;
    const overridesFor = (definition: Record<string, unknown>) => {
      const taskResourceLocalHandlers: LocalHandlers = {};
      const retryIntervalOverrides: Record<string, number[]> = {};
      for (const { state, retry, parameters } of taskStates(definition)) {
        // A task the router cannot run fails here, at start, not in the middle of an execution.
        if (!route.handles(parameters.task))
          throw new Error(`No task handler for ${String(parameters.task)}`);
        taskResourceLocalHandlers[state] = route as unknown as LocalHandlers[string];
        if (scale !== 1) {
          retryIntervalOverrides[state] = retry.map((r) => Number(r.IntervalSeconds ?? 1) * 1000 * scale);
        }
      }
      // Wait states (a tenant awaiting permissions waits before it re-checks) are scaled alike.
      const waitTimeOverrides: Record<string, number> = {};
      if (scale !== 1) {
        for (const [state, body] of Object.entries(
          definition.States as Record<string, Record<string, unknown>>,
        )) {
          if (body.Type === "Wait" && typeof body.Seconds === "number") {
            waitTimeOverrides[state] = body.Seconds * 1000 * scale;
          }
        }
      }
      return { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides };
    };
    const drift = driftCheckDefinition(taskFunctionArn);
    this.#overrides = {
      onboarding: overridesFor(definitions.onboarding),
      offboarding: overridesFor(definitions.offboarding),
    };
    this.#driftOverrides = overridesFor(drift);
    this.#machines = {
      onboarding: new StateMachine(definitions.onboarding as never),
      offboarding: new StateMachine(definitions.offboarding as never),
    };
    this.#driftMachine = new StateMachine(drift as never);
  }

  /** Starts a drift check in the background; the same check twice is a no-op. */
  async startDriftCheck(input: DriftCheckInput): Promise<void> {
    const name = driftExecutionName(input);
    if (this.#driftExecutions.has(name) || this.#running.has(name)) return;
    const record: DriftExecutionRecord = { name, input, status: "RUNNING" };
    this.#driftExecutions.set(name, record);
    const execution = this.#driftMachine.run(
      { tenantId: input.tenantId, run: input.run, check: input.check },
      { overrides: this.#driftOverrides, noThrowOnAbort: true },
    );
    this.#track(name, execution, record);
  }

  /** Drift checks started so far (tests). */
  driftExecutions(): DriftExecutionRecord[] {
    return [...this.#driftExecutions.values()];
  }

  /** Starts an execution in the background; the same execution name twice is a no-op. */
  async start(kind: WorkflowKind, input: WorkflowInput): Promise<void> {
    const name = executionName(kind, input);
    if (this.#executions.has(name)) return;
    const record: ExecutionRecord = {
      name,
      kind,
      input,
      status: "RUNNING",
      startedAt: new Date().toISOString(),
    };
    this.#executions.set(name, record);
    const execution = this.#machines[kind].run(
      { tenantId: input.tenantId, run: input.run, ...(input.handOver && { handOver: true }) },
      { overrides: this.#overrides[kind], noThrowOnAbort: true },
    );
    this.#track(name, execution, record, () => {
      record.stoppedAt = new Date().toISOString();
      this.#options.onExecutionEnd?.(name, {
        status: record.status as "SUCCEEDED",
        ...(record.error ? { error: record.error } : {}),
        kind,
        input,
      });
    });
  }

  /**
   * Keeps a running execution (to abort it, to wait for it) and its record's status up to date;
   * `ended` runs once it ended, whatever the outcome.
   */
  #track(
    name: string,
    execution: { result: Promise<unknown>; abort: () => void },
    record: { status: ExecutionRecord["status"]; error?: string },
    ended?: () => void,
  ): void {
    const promise = execution.result
      .then(
        () => {
          record.status = record.status === "ABORTED" ? "ABORTED" : "SUCCEEDED";
        },
        (err: unknown) => {
          record.status = "FAILED";
          record.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        },
      )
      .finally(() => {
        this.#running.delete(name);
        ended?.();
      });
    this.#running.set(name, {
      promise,
      abort: () => {
        record.status = "ABORTED";
        execution.abort();
      },
    });
  }

  async describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const record = this.#executions.get(executionName(kind, input));
    if (!record) return undefined;
    const { name, status, startedAt, stoppedAt, error } = record;
    return { name, status, startedAt, ...(stoppedAt && { stoppedAt }), ...(error && { error }) };
  }

  executions(): ExecutionRecord[] {
    return [...this.#executions.values()];
  }

  /** Resolves when no execution is running (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) {
      await Promise.all([...this.#running.values()].map((r) => r.promise));
    }
  }

  /** Aborts every running execution (shutdown). */
  async close(): Promise<void> {
    for (const r of this.#running.values()) r.abort();
    await Promise.allSettled([...this.#running.values()].map((r) => r.promise));
  }
}
