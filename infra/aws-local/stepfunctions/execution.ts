/**
 * One execution of a template's state machine in aws-local-stepfunctions: every Task state whose
 * Resource is a Lambda function ARN invokes that function through `invoke`, as Step Functions
 * does: a refused invocation is `Lambda.TooManyRequestsException`, a function error is the error
 * its errorType names with the JSON cause `{"errorType","errorMessage","trace"}`; a task input or
 * result over 256 KiB is `States.DataLimitExceeded` (retried by no retrier, caught by no catcher).
 * WORKFLOW_RETRY_SCALE multiplies each retrier's interval as in the local form (fixed, no backoff
 * or jitter when scaled).
 */
import { type RunOptions, StateMachine } from "aws-local-stepfunctions";
import type { Invoke } from "../contracts.ts";
import { isLambdaArn, type StateMachineModel, taskStatesOf } from "./machines.ts";
import type { ExecutionStatus } from "./store.ts";

/** Step Functions' limit on an execution's input, each state's data and each task result. */
export const DATA_LIMIT_BYTES = 256 * 1024;

export interface Outcome {
  status: Exclude<ExecutionStatus, "RUNNING">;
  output?: string;
  error?: string;
  cause?: string;
}

type Overrides = NonNullable<RunOptions["overrides"]>;
type LocalHandlers = NonNullable<Overrides["taskResourceLocalHandlers"]>;

/** A named error as a Task state sees it (its `name` is what Retry and Catch match). */
export function taskError(name: string, cause: string, terminal = false): Error {
  const error = new Error(cause);
  error.name = name;
  if (terminal) Object.assign(error, { isRetryable: false, isCatchable: false });
  return error;
}

export function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
}

export function overridesFor(model: StateMachineModel, invoke: Invoke, retryScale: number): Overrides {
  const taskResourceLocalHandlers: LocalHandlers = {};
  const retryIntervalOverrides: Record<string, number[]> = {};
  for (const { state, resource, retry } of taskStatesOf(model.definition)) {
    if (!isLambdaArn(resource)) continue;
    taskResourceLocalHandlers[state] = (async (input: unknown) => {
      if (byteLength(input) > DATA_LIMIT_BYTES) {
        throw taskError(
          "States.DataLimitExceeded",
          `The state/task '${state}' input exceeds the 262144 bytes limit`,
          true,
        );
      }
      const result = await invoke(resource, input);
      if (!result.ok) {
        if (result.refused) {
          throw taskError(
            "Lambda.TooManyRequestsException",
            `Rate Exceeded. (Service: Lambda, Status Code: 429)`,
          );
        }
        const { errorType, errorMessage, trace } = result;
        if (!errorType) {
          throw taskError(
            "Lambda.Unknown",
            `The cause could not be determined because Lambda did not return an error type. Returned payload: ${JSON.stringify({ errorMessage })}`,
          );
        }
        throw taskError(errorType, JSON.stringify({ errorType, errorMessage, trace: trace ?? [] }));
      }
      if (byteLength(result.payload) > DATA_LIMIT_BYTES) {
        throw taskError(
          "States.DataLimitExceeded",
          `The state/task '${state}' returned a result with a size exceeding the maximum number of bytes service limit.`,
          true,
        );
      }
      return result.payload;
    }) as LocalHandlers[string];
    if (retryScale !== 1) {
      retryIntervalOverrides[state] = retry.map((r) => Number(r["IntervalSeconds"] ?? 1) * 1000 * retryScale);
    }
  }
  return { taskResourceLocalHandlers, retryIntervalOverrides };
}

export interface Running {
  result: Promise<Outcome>;
  abort(): void;
  /** aws-local-stepfunctions' event log of the execution. */
  eventLogs: AsyncGenerator<unknown>;
}

export function runExecution(
  model: StateMachineModel,
  machine: StateMachine,
  overrides: Overrides,
  execution: { arn: string; name: string; input: unknown; startDate: number },
): Running {
  const run = machine.run(execution.input as never, {
    overrides,
    noThrowOnAbort: true,
    context: {
      Execution: {
        Id: execution.arn,
        Name: execution.name,
        Input: execution.input as never,
        StartTime: new Date(execution.startDate).toISOString(),
        ...(model.roleArn && { RoleArn: model.roleArn }),
      },
      StateMachine: { Id: model.arn, Name: model.name },
    },
  });
  let aborted = false;
  const result = run.result.then(
    (output): Outcome => {
      if (aborted || output === null) return { status: "ABORTED" };
      const text = JSON.stringify(output);
      if (Buffer.byteLength(text) > DATA_LIMIT_BYTES) {
        return {
          status: "FAILED",
          error: "States.DataLimitExceeded",
          cause: "The execution output exceeds the 262144 bytes limit",
        };
      }
      return { status: "SUCCEEDED", output: text };
    },
    (err: unknown): Outcome => {
      const error = err as Error & { cause?: unknown };
      if (error.name === "ExecutionTimeoutError") {
        return { status: "TIMED_OUT", error: "States.Timeout", cause: "The execution timed out" };
      }
      if (error.name === "ExecutionAbortedError") return { status: "ABORTED" };
      const cause = error.cause instanceof Error ? error.cause : error;
      return { status: "FAILED", error: cause.name, cause: cause.message };
    },
  );
  return {
    result,
    eventLogs: run.eventLogs,
    abort: () => {
      aborted = true;
      run.abort();
    },
  };
}

export function createMachine(model: StateMachineModel): StateMachine {
  return new StateMachine(model.definition as never, { validationOptions: { checkArn: false } });
}
