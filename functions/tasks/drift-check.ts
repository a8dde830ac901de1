/**
 * The drift check and the plan, independent of Lambda: both run every applicable step's
 * read-only comparison (`functions/domain/steps/`), so that a check, a plan and onboarding
 * cannot disagree. Nothing here writes in the customer's tenant.
 */
import { type Difference, type DriftResult, driftResult, recentRemediations } from "../domain/drift.ts";
import { AccessDeniedError, ConsentRequiredError, InvalidGroupMemberError } from "../domain/errors.ts";
import { settled } from "../domain/steps/context.ts";
import { DIFFS, type DiffContext, type StepDiff } from "../domain/steps/index.ts";
import { readingOnce } from "../domain/steps/wave.ts";
import type { StoredTenant, TenantChange } from "../domain/store.ts";
import { applicableSteps, STEP_NAMES, type StepName } from "../domain/tenant.ts";

/** The diffs of every applicable step after check-access, in workflow order. */
export async function diffAll(ctx: DiffContext): Promise<StepDiff[]> {
  const used = applicableSteps(ctx.request);
  const steps = STEP_NAMES.filter((s) => s !== "check-access" && used.has(s));
  return settled(steps.map((step) => diffOrDifference(ctx, step)));
}

/** A step's diff; a member that is no recipient (someone removed it) is a difference, not a failure. */
async function diffOrDifference(ctx: DiffContext, step: StepName): Promise<StepDiff> {
  try {
    return await DIFFS[step](ctx);
  } catch (err) {
    return failedDiff(step, err);
  }
}

/**
 * The diff of a step whose comparison threw `err`: a member that is no recipient (someone removed
 * it) is a difference with no write; anything else is rethrown.
 */
export function failedDiff(step: StepName, err: unknown): StepDiff {
  if (!(err instanceof InvalidGroupMemberError)) throw err;
  return {
    step,
    differences: [
      {
        step,
        object: "distribution groups",
        field: "members",
        expected: "recipients",
        actual: err.message,
      },
    ],
    writes: [],
    objects: [],
  };
}

/**
 * Every difference of the tenant, check-access first: withdrawn consent or permissions are drift
 * of access (and nothing else can be read then), not a failure of the check. One wave of reads,
 * each made once (the connector and validation steps share their reads, as do the groups and
 * the rules).
 */
export async function findDifferences(
  ctx: DiffContext,
  /** Receives the steps' diffs (their bookkeeping: identities to record). */
  onDiffs?: (diffs: readonly StepDiff[]) => void,
): Promise<Difference[]> {
  const wave: DiffContext = { ...ctx, m365: readingOnce(ctx.m365) };
  const [access, rest] = await Promise.allSettled([DIFFS["check-access"](wave), diffAll(wave)]);
  if (access.status === "rejected") {
    const err = access.reason;
    if (err instanceof ConsentRequiredError) {
      return [
        { step: "check-access", object: "admin consent", field: "granted", expected: true, actual: false },
      ];
    }
    if (err instanceof AccessDeniedError) {
      return [
        {
          step: "check-access",
          object: "app permissions",
          field: "Exchange access",
          expected: "granted",
          actual: "denied",
        },
      ];
    }
    throw err;
  }
  if (rest.status === "rejected") throw rest.reason;
  onDiffs?.(rest.value);
  return [...access.value.differences, ...rest.value.flatMap((d) => d.differences)];
}

export interface DriftOutcome {
  result: DriftResult;
  change: TenantChange;
  /** An onboarding run to start after the change is recorded (remediation). */
  remediate: boolean;
}

/**
 * What a check's differences change on the tenant: the result always; an event only when the
 * state changed (in sync <-> out of sync); with `onDrift: remediate` and out of sync, a new
 * onboarding run (requested by `drift-remediation`) unless the tenant had `perDay` of them in the
 * last 24 hours, which the result and the event then say.
 */
export function driftOutcome(
  stored: StoredTenant,
  differences: Difference[],
  now: string,
  perDay: number,
): DriftOutcome {
  const { tenant, internals } = stored;
  const result = driftResult(now, differences);
  const previous = tenant.drift;
  const changed = previous ? previous.inSync !== result.inSync : !result.inSync;
  let remediate = false;
  let remediations: string[] | undefined;
  if (!result.inSync && tenant.onDrift === "remediate") {
    const recent = recentRemediations(internals.remediations, now);
    if (recent.length < perDay) {
      remediate = true;
      result.remediation = "started";
      remediations = [...recent, now];
    } else {
      result.remediation = "daily_limit_reached";
    }
  }
  const change: TenantChange = {
    expectStatus: ["succeeded"],
    expectRun: internals.run,
    drift: result,
    ...(changed
      ? {
          event: {
            type: result.inSync ? ("tenant.drift.resolved" as const) : ("tenant.drift.detected" as const),
            drift: result,
          },
        }
      : {}),
    ...(remediate
      ? {
          status: "queued" as const,
          newRun: true,
          resetSteps: true,
          error: null,
          requestedBy: "drift-remediation" as const,
          ...(remediations ? { remediations } : {}),
        }
      : {}),
  };
  return { result, change, remediate };
}
