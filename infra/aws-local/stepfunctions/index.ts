/**
 * Step Functions of the deployed form: the template's state machines run by
 * aws-local-stepfunctions behind the JSON protocol (`AWSStepFunctions.<Action>`, see `api.ts`;
 * execution history: `history.ts`).
 * Standard executions are kept in DATA_DIR (names unique for 90 days, closed ones included); an
 * execution a stop or crash of the form cut off ends ABORTED at the next start, with its status
 * change event. Express executions are not kept (Step Functions does not either), send no
 * status change events, and end at 5 minutes.
 */
import { randomUUID } from "node:crypto";
import type { StateMachine } from "aws-local-stepfunctions";
import { type AwsServiceHandler, type Invoke, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts.ts";
import type { Assembly } from "../template.ts";
import { createStatesApi } from "./api.ts";
import { createMachine, type Outcome, overridesFor, type Running, runExecution } from "./execution.ts";
import { ExecutionHistories } from "./history.ts";
import { readStateMachines, type StateMachineModel, taskStatesOf } from "./machines.ts";
import { type ExecutionRecord, ExecutionStore } from "./store.ts";

/** Express executions' longest duration. */
export const EXPRESS_LIMIT_MS = 5 * 60 * 1000;
/** Ended Express executions kept for `describe` (Step Functions keeps none). */
const EXPRESS_KEPT = 1000;

export interface StepFunctionsOptions {
  assembly: Assembly;
  invoke: Invoke;
  dataDir: string;
  retryScale: number;
  onStatusChange: (event: object) => void;
  /** @default 5 minutes */
  expressLimitMs?: number;
}

export interface StepFunctions {
  handler: AwsServiceHandler;
  /**
   * Resolves when no execution is running, or none of those `which` selects (executions it
   * starts meanwhile included).
   */
  idle(which?: (execution: ExecutionRecord) => boolean): Promise<void>;
  /** Stops every running execution without recording an end (the next start marks them ABORTED). */
  close(): Promise<void>;
  /** Executions by ARN (Standard: kept; Express: while running and after, until close). */
  describe(executionArn: string): ExecutionRecord | undefined;
}

export interface Engine {
  machines: Map<string, StateMachineModel>;
  store: ExecutionStore;
  express: Map<string, ExecutionRecord>;
  histories: ExecutionHistories;
  start(model: StateMachineModel, name: string, input: string): ExecutionRecord;
  stop(record: ExecutionRecord, error?: string, cause?: string): void;
}

export function createStepFunctions(o: StepFunctionsOptions): StepFunctions {
  const models = readStateMachines(o.assembly);
  const machines = new Map(models.map((m) => [m.arn, m]));
  const compiled = new Map<string, { machine: StateMachine; overrides: ReturnType<typeof overridesFor> }>(
    models.map((m) => [
      m.arn,
      { machine: createMachine(m), overrides: overridesFor(m, o.invoke, o.retryScale) },
    ]),
  );
  const store = new ExecutionStore(o.dataDir);
  const histories = new ExecutionHistories();
  const express = new Map<string, ExecutionRecord>();
  const running = new Map<string, { run: Running; done: Promise<void>; record: ExecutionRecord }>();
  let closing = false;

  const statusChange = (record: ExecutionRecord) => {
    if (machines.get(record.stateMachineArn)?.type !== "STANDARD") return;
    o.onStatusChange(statusChangeEvent(record));
  };

  // Cut off by a stop or a crash: ABORTED now, as Step Functions would have ended them.
  const cutOff = store.all().filter((r) => r.status === "RUNNING");
  for (const record of cutOff) store.put({ ...record, status: "ABORTED", stopDate: Date.now() });
  // After the caller has wired its listeners.
  setImmediate(() => {
    for (const r of cutOff) statusChange(store.get(r.executionArn) as ExecutionRecord);
  });

  // Express executions are kept in memory only while the form runs: the last ones, for `describe`.
  const forgetOldExpress = () => {
    for (const [arn, r] of express) {
      if (express.size <= EXPRESS_KEPT) break;
      if (r.status !== "RUNNING") express.delete(arn);
    }
  };

  const finish = (record: ExecutionRecord, outcome: Outcome) => {
    const current =
      record.stateMachineArn && machines.get(record.stateMachineArn)?.type === "EXPRESS"
        ? express.get(record.executionArn)
        : store.get(record.executionArn);
    if (closing || !current || current.status !== "RUNNING") return;
    const ended: ExecutionRecord = { ...current, ...outcome, stopDate: Date.now() };
    if (express.has(record.executionArn)) {
      express.set(record.executionArn, ended);
      forgetOldExpress();
    } else store.put(ended);
    statusChange(ended);
  };

  const start = (model: StateMachineModel, name: string, input: string): ExecutionRecord => {
    const executionArn =
      model.type === "EXPRESS"
        ? `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:express:${model.name}:${name}:${randomUUID()}`
        : `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${model.name}:${name}`;
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: model.arn,
      name,
      status: "RUNNING",
      input,
      startDate: Date.now(),
    };
    if (model.type === "EXPRESS") express.set(executionArn, record);
    else store.put(record);
    statusChange(record);
    const { machine, overrides } = compiled.get(model.arn) as {
      machine: StateMachine;
      overrides: ReturnType<typeof overridesFor>;
    };
    const run = runExecution(model, machine, overrides, {
      arn: executionArn,
      name,
      input: JSON.parse(input),
      startDate: record.startDate,
    });
    const timer =
      model.type === "EXPRESS"
        ? setTimeout(() => {
            finish(record, {
              status: "TIMED_OUT",
              error: "States.Timeout",
              cause: "Express executions end at 5 minutes",
            });
            run.abort();
          }, o.expressLimitMs ?? EXPRESS_LIMIT_MS)
        : undefined;
    if (model.type === "STANDARD") {
      const tasks = new Map(taskStatesOf(model.definition).map((t) => [t.state, t.resource]));
      histories.follow(executionArn, run.eventLogs, (state) => tasks.get(state));
    }
    const done = run.result
      .then((outcome) => finish(record, outcome))
      .finally(() => {
        clearTimeout(timer);
        running.delete(executionArn);
      });
    running.set(executionArn, { run, done, record });
    return record;
  };

  const stop = (record: ExecutionRecord, error?: string, cause?: string) => {
    finish(record, { status: "ABORTED", ...(error && { error }), ...(cause && { cause }) });
    running.get(record.executionArn)?.run.abort();
  };

  const engine: Engine = { machines, store, express, histories, start, stop };
  return {
    handler: createStatesApi(engine),
    idle: (which) => idleOf(running, which),
    close: async () => {
      closing = true;
      for (const r of running.values()) r.run.abort();
      await Promise.allSettled([...running.values()].map((r) => r.done));
    },
    describe: (arn) => store.get(arn) ?? express.get(arn),
  };
}

type RunningExecutions = Map<string, { done: Promise<void>; record: ExecutionRecord }>;

/** Resolves once none of the running executions that `which` selects is left (new ones included). */
async function idleOf(running: RunningExecutions, which: (e: ExecutionRecord) => boolean = () => true) {
  const selected = () => [...running.values()].filter((r) => which(r.record));
  for (let left = selected(); left.length > 0; left = selected()) {
    await Promise.all(left.map((r) => r.done));
  }
}

/** The EventBridge event Step Functions sends when a Standard execution's status changes. */
export function statusChangeEvent(record: ExecutionRecord): Record<string, unknown> {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Step Functions Execution Status Change",
    source: "aws.states",
    account: LOCAL_ACCOUNT,
    time: new Date(record.stopDate ?? record.startDate).toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: LOCAL_REGION,
    resources: [record.executionArn],
    detail: {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate ?? null,
      input: record.input,
      output: record.output ?? null,
      inputDetails: { included: true },
      outputDetails: record.output === undefined ? null : { included: true },
      error: record.error ?? null,
      cause: record.cause ?? null,
    },
  };
}
