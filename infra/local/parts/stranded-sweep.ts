/**
 * The stranded-run sweep, as in AWS (`functions/domain/stranded-sweep.ts`): every
 * STRANDED_SWEEP_SECONDS (default 60, the AWS schedule's minute) a tenant left `queued`,
 * `running` or `offboarding` for STRANDED_AFTER_SECONDS (default 300) with no live execution is
 * recorded failed with INTERRUPTED and its event. The start-up recovery (`interrupted.ts`) still
 * records every run a stop or a crash cut off at once; this catches what happens while running.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { DynamoInFlightDue } from "../../../functions/adapters/dynamodb/in-flight-due.ts";
import type { TableContext } from "../../../functions/adapters/dynamodb/query.ts";
import type { DynamoTenantStore } from "../../../functions/adapters/dynamodb/tenant-store.ts";
import type { LocalWorkflowEngine } from "../../../functions/adapters/workflow/local-engine.ts";
import { strandedAfterMsOf, sweepStranded } from "../../../functions/domain/stranded-sweep.ts";
import type { Part } from "./parts.ts";

/** STRANDED_SWEEP_SECONDS: time between two sweeps (local only; AWS sweeps every minute). */
export function sweepIntervalMsOf(seconds: string | undefined): number {
  if (seconds === undefined || seconds.trim() === "") return 60_000;
  const n = Number(seconds);
  if (!(n > 0))
    throw new RangeError(`STRANDED_SWEEP_SECONDS must be a number of seconds > 0; got "${seconds}"`);
  return n * 1000;
}

/** Starts the sweep's timer; `stop` stops it (a sweep in progress finishes). */
export function startStrandedSweep(options: {
  ctx: TableContext;
  store: DynamoTenantStore;
  engine: LocalWorkflowEngine;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Part {
  const { store, engine, logger, env } = options;
  const due = new DynamoInFlightDue(options.ctx);
  const strandedAfterMs = strandedAfterMsOf(env["STRANDED_AFTER_SECONDS"]);
  const sweep = async () => {
    const result = await sweepStranded({
      store,
      engine,
      due,
      clock: () => new Date(),
      strandedAfterMs,
      strandedConfirmMs: 0,
      onError: (err, tenantId) =>
        logger.warn("could not judge a tenant's run", { tenantId, error: String(err) }),
    });
    if (result.recorded.length > 0) {
      logger.warn("stranded runs recorded as interrupted", { tenants: result.recorded });
    }
  };
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep()
      .catch((err: unknown) => logger.warn("stranded-run sweep failed", { error: String(err) }))
      .finally(() => {
        sweeping = false;
      });
  }, sweepIntervalMsOf(env["STRANDED_SWEEP_SECONDS"]));
  timer.unref();
  return { stop: async () => clearInterval(timer) };
}
