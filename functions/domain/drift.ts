/**
 * Drift: how a tenant onboarded earlier differs from what onboarding set up, found by running
 * every step's read-only comparison (`steps/diff.ts`). Pure types and rules; a leaf of the domain.
 */
import type { Difference, PlannedWrite } from "./plan.ts";

export type { Difference, PlannedWrite } from "./plan.ts";

/** What a tenant does when a check finds drift. */
export const ON_DRIFT = ["report", "remediate"] as const;
export type OnDrift = (typeof ON_DRIFT)[number];

/** Whether onboarding stops for approval after check-access. */
export const APPROVAL = ["none", "required"] as const;
export type Approval = (typeof APPROVAL)[number];

/** At most this many differences are kept on the tenant (the rest are counted). */
export const MAX_DIFFERENCES = 50;

/** The latest drift check of a tenant. */
export interface DriftResult {
  checkedAt: string;
  inSync: boolean;
  differences: Difference[];
  /** Differences beyond MAX_DIFFERENCES, not listed. */
  moreDifferences?: number;
  /**
   * With `onDrift: remediate`: `started` when an onboarding run was started to repair it,
   * `daily_limit_reached` when the tenant had its remediations for the day (reported only).
   */
  remediation?: "started" | "daily_limit_reached";
}

/** Default number of remediations per tenant in 24 hours (DRIFT_REMEDIATIONS_PER_DAY). */
export const DEFAULT_REMEDIATIONS_PER_DAY = 3;
/** Default time between two scheduled checks of a tenant (DRIFT_CHECK_INTERVAL). */
export const DEFAULT_DRIFT_CHECK_INTERVAL_MS = 6 * 3_600_000;

/**
 * Parses DRIFT_CHECK_INTERVAL: a number with a unit (`30s`, `15m`, `6h`, `1d`) or plain seconds.
 * Throws RangeError for anything else, or an interval under a minute (`0` switches scheduled
 * checks off and returns 0).
 */
export function parseDriftInterval(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_DRIFT_CHECK_INTERVAL_MS;
  const m = /^\s*(\d+)\s*(s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new RangeError(`DRIFT_CHECK_INTERVAL must be like 30m, 6h or 1d (got "${value}")`);
  const n = Number(m[1]);
  const ms = n * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "s"];
  if (ms !== 0 && ms < 60_000)
    throw new RangeError("DRIFT_CHECK_INTERVAL must be at least 1 minute (or 0: off)");
  return ms;
}

/** The result of a check from the differences found, bounded. */
export function driftResult(checkedAt: string, differences: readonly Difference[]): DriftResult {
  const shown = differences.slice(0, MAX_DIFFERENCES);
  return {
    checkedAt,
    inSync: differences.length === 0,
    differences: shown,
    ...(differences.length > shown.length ? { moreDifferences: differences.length - shown.length } : {}),
  };
}

/** Remediations of the last 24 hours, given the recorded times and now. */
export function recentRemediations(times: readonly string[] | undefined, now: string): string[] {
  const since = Date.parse(now) - 86_400_000;
  return (times ?? []).filter((t) => Date.parse(t) > since);
}

/** The plan's writes, in order (what `approve` applies). */
export type Plan = PlannedWrite[];
