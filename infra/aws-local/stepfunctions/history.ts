/**
 * Execution history (GetExecutionHistory) of Standard executions, from aws-local-stepfunctions'
 * event log turned into Step Functions' history events (`TaskStateEntered`,
 * `LambdaFunctionScheduled`, `LambdaFunctionFailed`, `ExecutionSucceeded`, ...). Kept in memory
 * for the last executions started since the form started (Step Functions keeps 90 days).
 */

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  /** Epoch milliseconds. */
  timestamp: number;
  type: string;
  details?: { key: string; value: Record<string, unknown> };
}

/** States carry up to 256 KiB each: only the last executions are kept. */
const KEPT_EXECUTIONS = 100;

interface LogEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
}

const text = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value ?? null));

export class ExecutionHistories {
  readonly #histories = new Map<string, HistoryEvent[]>();

  /** Reads an execution's event log in the background. */
  follow(
    executionArn: string,
    log: AsyncGenerator<unknown>,
    resourceOf: (state: string) => string | undefined,
  ) {
    const events: HistoryEvent[] = [];
    this.#histories.set(executionArn, events);
    for (const arn of this.#histories.keys()) {
      if (this.#histories.size <= KEPT_EXECUTIONS) break;
      this.#histories.delete(arn);
    }
    const add = (type: string, timestamp: number, key?: string, value?: Record<string, unknown>) =>
      events.push({
        id: events.length + 1,
        previousEventId: events.length,
        timestamp,
        type,
        ...(key && value && { details: { key, value } }),
      });
    void (async () => {
      for await (const raw of log) {
        const e = raw as LogEvent;
        const t = e.timestamp;
        const state = e.state;
        const resource = state ? resourceOf(state.name) : undefined;
        switch (e.type) {
          case "ExecutionStarted":
            add("ExecutionStarted", t, "executionStartedEventDetails", { input: text(e.input) });
            break;
          case "StateEntered":
            add(`${state?.type}StateEntered`, t, "stateEnteredEventDetails", {
              name: state?.name,
              input: text(state?.input),
            });
            if (resource) lambdaScheduled(add, t, resource, state?.input);
            break;
          case "StateRetried":
            if (resource) lambdaScheduled(add, t, resource, state?.input);
            break;
          case "StateFailed":
            if (resource)
              add("LambdaFunctionFailed", t, "lambdaFunctionFailedEventDetails", {
                error: e.Error,
                cause: text(e.Cause),
              });
            break;
          case "StateExited":
            if (resource)
              add("LambdaFunctionSucceeded", t, "lambdaFunctionSucceededEventDetails", {
                output: text(state?.output),
              });
            add(`${state?.type}StateExited`, t, "stateExitedEventDetails", {
              name: state?.name,
              output: text(state?.output),
            });
            break;
          case "ExecutionSucceeded":
            add("ExecutionSucceeded", t, "executionSucceededEventDetails", { output: text(e.output) });
            break;
          case "ExecutionFailed":
            add("ExecutionFailed", t, "executionFailedEventDetails", {
              error: e.Error,
              cause: text(e.Cause),
            });
            break;
          case "ExecutionAborted":
            add("ExecutionAborted", t);
            break;
          case "ExecutionTimeout":
            add("ExecutionTimedOut", t);
            break;
        }
      }
    })().catch(() => undefined);
  }

  get(executionArn: string): HistoryEvent[] {
    return this.#histories.get(executionArn) ?? [];
  }
}

function lambdaScheduled(
  add: (type: string, t: number, key?: string, value?: Record<string, unknown>) => void,
  t: number,
  resource: string,
  input: unknown,
) {
  add("LambdaFunctionScheduled", t, "lambdaFunctionScheduledEventDetails", { resource, input: text(input) });
  add("LambdaFunctionStarted", t);
}

/** The history as GetExecutionHistory answers it. */
export function historyPage(
  events: HistoryEvent[],
  request: {
    maxResults?: number;
    reverseOrder?: boolean;
    nextToken?: string;
    includeExecutionData?: boolean;
  },
): Record<string, unknown> {
  const ordered = request.reverseOrder ? [...events].reverse() : events;
  const max = Math.min(1000, request.maxResults || 100);
  const from = Number(request.nextToken ?? 0) || 0;
  const page = ordered.slice(from, from + max).map((e) => {
    const details = e.details && { ...e.details.value };
    if (details && request.includeExecutionData === false) {
      for (const field of ["input", "output", "cause"]) delete details[field];
    }
    return {
      id: e.id,
      previousEventId: e.previousEventId,
      timestamp: e.timestamp / 1000,
      type: e.type,
      ...(e.details && { [e.details.key]: details }),
    };
  });
  return { events: page, ...(from + max < ordered.length && { nextToken: String(from + max) }) };
}
