/**
 * The drift check schedule in AWS: EventBridge invokes this function once per tick (the
 * interval / 72: every 5 minutes for 6 hours); it lists the `succeeded` tenants and starts the
 * Express drift check of those whose tick it is, paced over most of the tick (see
 * `drift-schedule.ts` for the arithmetic).
 *
 * Environment: TABLE_NAME, DRIFT_STATE_MACHINE_ARN, DRIFT_CHECK_INTERVAL.
 */
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { requireEnv, tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger } from "../commons/observability.ts";
import { parseDriftInterval } from "../domain/drift.ts";
import { runDriftTick, tickMs } from "./drift-schedule.ts";

export const handler = instrument(async () => {
  const intervalMs = parseDriftInterval(process.env["DRIFT_CHECK_INTERVAL"]);
  if (intervalMs === 0) return { started: 0 };
  const engine = new StepFunctionsEngine({
    // Only drift checks are started here.
    stateMachineArns: { onboarding: "", offboarding: "" },
    driftStateMachineArn: requireEnv("DRIFT_STATE_MACHINE_ARN"),
  });
  const started = await runDriftTick({
    store: tenantStore(),
    starter: engine,
    intervalMs,
    // Most of the tick: the next tick's starts never overlap this one's.
    spreadMs: tickMs(intervalMs) * 0.8,
    onError: (err, tenantId) =>
      logger.warn("could not start a drift check", { tenantId, error: String(err) }),
  });
  logger.info("drift checks started", { started });
  return { started };
});
