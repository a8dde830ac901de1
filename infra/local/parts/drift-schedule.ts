/**
 * Drift checks: every tick starts the checks of the tenants whose tick it is (spread over
 * DRIFT_CHECK_INTERVAL; 0 switches the schedule off).
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDriftDue } from "../../../functions/adapters/dynamodb/drift-due.ts";
import type { TableContext } from "../../../functions/adapters/dynamodb/query.ts";
import type { DynamoTenantStore } from "../../../functions/adapters/dynamodb/tenant-store.ts";
import type { LocalWorkflowEngine } from "../../../functions/adapters/workflow/local-engine.ts";
import {
  DEFAULT_DRIFT_CHECK_INTERVAL_MS,
  DEFAULT_REMEDIATIONS_PER_DAY,
  parseDriftInterval,
} from "../../../functions/domain/drift.ts";
import { tickMs } from "../../../functions/domain/drift-ticks.ts";
import { runDriftTick, succeededPages } from "../../../functions/tasks/drift-schedule.ts";
import type { Part } from "./parts.ts";

export interface DriftSettings {
  /** 0: no schedule. */
  intervalMs: number;
  remediationsPerDay: number;
}

/** DRIFT_CHECK_INTERVAL and DRIFT_REMEDIATIONS_PER_DAY, checked. */
export function driftSettingsFromEnv(env: NodeJS.ProcessEnv): DriftSettings {
  const intervalMs = parseDriftInterval(env["DRIFT_CHECK_INTERVAL"]);
  const remediationsPerDay = Number(env["DRIFT_REMEDIATIONS_PER_DAY"] ?? DEFAULT_REMEDIATIONS_PER_DAY);
  if (!Number.isInteger(remediationsPerDay) || remediationsPerDay < 0) {
    throw new RangeError("DRIFT_REMEDIATIONS_PER_DAY must be a whole number >= 0");
  }
  return { intervalMs, remediationsPerDay };
}

export interface DriftSchedulePart extends Part {
  /** Runs one tick now (the timer does it every tick; tests call it). */
  tick(now?: Date): Promise<number>;
}

/** `stop` stops the timer (a tick in progress finishes). */
export function startDriftSchedule(options: {
  ctx: TableContext;
  store: DynamoTenantStore;
  engine: LocalWorkflowEngine;
  intervalMs: number;
  logger: Logger;
}): DriftSchedulePart {
  const { store, engine, intervalMs, logger } = options;
  const driftDue = new DynamoDriftDue(options.ctx);
  const tick = async (now = new Date()) => {
    await driftDue.enrolEarlier(succeededPages(store), new Date().toISOString());
    return runDriftTick({
      due: driftDue,
      starter: engine,
      intervalMs: intervalMs || DEFAULT_DRIFT_CHECK_INTERVAL_MS,
      at: now,
      onError: (err, tenantId) =>
        logger.warn("could not start a drift check", { tenantId, error: String(err) }),
    });
  };
  if (!(intervalMs > 0)) return { tick, stop: async () => {} };
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    tick()
      .catch((err: unknown) => logger.warn("drift check tick failed", { error: String(err) }))
      .finally(() => {
        ticking = false;
      });
  }, tickMs(intervalMs));
  timer.unref();
  return { tick, stop: async () => clearInterval(timer) };
}
