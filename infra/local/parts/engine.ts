/**
 * The workflow engine: the definition AWS runs, executed by aws-local-stepfunctions, over the
 * same task handlers as the task Lambda. Tasks in progress are tracked so that a stop lets
 * them finish even when it stops their execution.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoChangeLogStore } from "../../../functions/adapters/dynamodb/change-log-store.ts";
import type { DynamoTenantStore } from "../../../functions/adapters/dynamodb/tenant-store.ts";
import { LocalWorkflowEngine } from "../../../functions/adapters/workflow/local-engine.ts";
import type { M365Gateway } from "../../../functions/domain/m365.ts";
import { recordEndedExecution } from "../../../functions/tasks/execution-ended.ts";
import { createTaskRouter } from "../../../functions/tasks/router.ts";
import type { StepResult } from "../../../functions/tasks/task-context.ts";
import { createTaskHandlers } from "../../../functions/tasks/task-handlers.ts";
import type { Part } from "./parts.ts";

export interface EnginePart extends Part {
  engine: LocalWorkflowEngine;
  /** Task invocations in progress. */
  tasksInFlight: ReadonlySet<Promise<unknown>>;
}

export interface EngineOptions {
  store: DynamoTenantStore;
  m365: M365Gateway;
  changeLog: DynamoChangeLogStore;
  logger: Logger;
  remediationsPerDay: number;
  retryScale: number;
  onStepResult?: (result: StepResult) => void;
}

/** `stop` stops the executions between steps. */
export function startEngine(options: EngineOptions): EnginePart {
  const { store, logger } = options;
  const tasksInFlight = new Set<Promise<unknown>>();
  // Drift remediation starts onboarding runs on the engine built below.
  let engineRef: LocalWorkflowEngine | undefined;
  const handlers = createTaskHandlers({
    store,
    m365: options.m365,
    changeLog: options.changeLog,
    onChangeLogError: (err) => logger.error("could not record a change", { error: String(err) }),
    remediationsPerDay: options.remediationsPerDay,
    startOnboarding: async (input) => {
      if (!engineRef) throw new Error("the engine is not started");
      await engineRef.start("onboarding", input);
    },
    onStepResult: (result) => {
      const { tenantId, step, outcome, durationMs, changes, error, rawMessage } = result;
      if (outcome === "failed") logger.warn("step failed", { tenantId, step, durationMs, error, rawMessage });
      else if (outcome === "succeeded")
        logger.info("step succeeded", { tenantId, step, durationMs, changes });
      options.onStepResult?.(result);
    },
    onEvent: (event) =>
      logger.info("tenant event", {
        tenantId: event.data.tenantId,
        event: event.type,
        sequence: event.data.sequence,
        status: event.data.status,
        ...(event.data.error && { error: event.data.error }),
      }),
  });
  const engine = new LocalWorkflowEngine({
    route: createTaskRouter(tracked(handlers, tasksInFlight)),
    retryScale: options.retryScale,
    onExecutionEnd: (name, { kind, input, ...result }) => {
      logger.info("execution ended", { execution: name, tenantId: input.tenantId, ...result });
      // As the EventBridge watchdog does in AWS: a run that ended without its outcome is failed.
      if (result.status === "FAILED") {
        void recordEndedExecution(
          store,
          { kind, ...input, status: result.status },
          new Date().toISOString(),
        ).catch((err: unknown) =>
          logger.error("could not record an ended execution", { execution: name, error: String(err) }),
        );
      }
    },
  });
  engineRef = engine;
  return { engine, tasksInFlight, stop: () => engine.close() };
}

/** The handlers, each keeping its invocations in `inFlight` until they settle. */
function tracked<T extends Record<string, (input: never) => Promise<unknown>>>(
  all: T,
  inFlight: Set<Promise<unknown>>,
): T {
  return Object.fromEntries(
    Object.entries(all).map(([name, handler]) => [
      name,
      (input: never) => {
        const promise = handler(input);
        inFlight.add(promise);
        void promise.then(
          () => inFlight.delete(promise),
          () => inFlight.delete(promise),
        );
        return promise;
      },
    ]),
  ) as T;
}
