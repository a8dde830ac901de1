/**
 * The drift check schedule in AWS: an EventBridge schedule invokes this function once per tick;
 * the tick is the event's `time` (when the tick was due, whenever it is delivered or retried).
 * It starts the Express drift checks of the tick's tenants (and of ticks it finds missed), paced
 * over most of the tick but within this function's timeout (see `drift-schedule.ts`), and first
 * enrols a page of tenants from before the drift index, until none is left.
 *
 * Environment: TABLE_NAME, DRIFT_STATE_MACHINE_ARN, DRIFT_CHECK_INTERVAL, DRIFT_SPREAD_SECONDS.
 */
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoDriftDue } from "../adapters/dynamodb/drift-due.ts";
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { requireEnv, tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger, tracer } from "../commons/observability.ts";
import { parseDriftInterval } from "../domain/drift.ts";
import { tickMs } from "../domain/drift-ticks.ts";
import { runDriftTick, succeededPages } from "./drift-schedule.ts";

/** The scheduled event's fields this function reads. */
export interface DriftTickEvent {
  time?: string;
}

let due: DynamoDriftDue | undefined;

export const handler = instrument(async (event: DriftTickEvent = {}) => {
  const intervalMs = parseDriftInterval(process.env["DRIFT_CHECK_INTERVAL"]);
  if (intervalMs === 0) return { started: 0 };
  const at = event.time && !Number.isNaN(Date.parse(event.time)) ? new Date(event.time) : new Date();
  due ??= new DynamoDriftDue({
    client: createDocumentClient({ client: tracer.captureAWSv3Client(createDynamoClient()) }),
    table: requireEnv("TABLE_NAME"),
  });
  await due
    .enrolEarlier(succeededPages(tenantStore()), new Date().toISOString())
    .catch((err: unknown) =>
      logger.warn("could not enrol tenants in the drift schedule", { error: String(err) }),
    );
  const engine = new StepFunctionsEngine({
    // Only drift checks are started here.
    stateMachineArns: { onboarding: "", offboarding: "" },
    driftStateMachineArn: requireEnv("DRIFT_STATE_MACHINE_ARN"),
  });
  const spreadSeconds = Number(process.env["DRIFT_SPREAD_SECONDS"]);
  const started = await runDriftTick({
    due,
    starter: engine,
    intervalMs,
    at,
    // Most of the tick (the next tick's starts never overlap this one's), within the timeout.
    spreadMs: Number.isFinite(spreadSeconds) ? spreadSeconds * 1000 : tickMs(intervalMs) * 0.8,
    onError: (err, tenantId) =>
      logger.warn("could not start a drift check", { tenantId, error: String(err) }),
  });
  logger.info("drift checks started", { started, tick: at.toISOString() });
  return { started };
});
