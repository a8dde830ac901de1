/**
 * One onboarding step's writes, inside Configure or Journal. Its first attempt applies the diff
 * CheckAccess's wave read (`forwarded`), without reading again; a retry, or a step whose diff did
 * not come forward, compares afresh. A write answering that the state changed since the wave
 * (not found, exists already) makes the step read again and compare once more. A run applying an
 * approved plan makes exactly the approved writes, or none (PLAN_STALE).
 */

import { PlanStaleError } from "../domain/errors.ts";
import { type StepDiff, sameWrites } from "../domain/steps/diff.ts";
import { APPLIES, DIFFS, type StepOutcome } from "../domain/steps/index.ts";
import { type ForwardedDiff, isStaleAnswer, stillHolds } from "../domain/steps/wave.ts";
import type { StoredTenant } from "../domain/store.ts";
import type { StepName } from "../domain/tenant.ts";
import { hydrating } from "./organization-customization.ts";
import { stepOf } from "./step-records.ts";
import type { TaskContext } from "./task-context.ts";

/** What the step did, and the tenant as its last write left it. */
export interface AppliedStep {
  outcome: StepOutcome;
  stored: StoredTenant;
}

export async function applyStep(
  ctx: TaskContext,
  stored: StoredTenant,
  step: StepName,
  forwarded: ForwardedDiff | undefined,
  ready: () => void,
): Promise<AppliedStep> {
  const stepCtx = { ...(await ctx.contextFor(stored, step)), ready };
  const approved = stored.internals.approvedPlan;
  const checked = (diff: StepDiff) => {
    if (
      approved &&
      !sameWrites(
        diff.writes,
        approved.filter((w) => w.step === step),
      )
    ) {
      throw new PlanStaleError(
        `The tenant changed after the plan was approved: step ${step} would now make other writes than approved, so it wrote nothing. Retry the tenant for a new plan.`,
      );
    }
    return diff;
  };
  // What the wave read, while it still holds (this attempt, fresh, and what it depends on).
  const read =
    forwarded && stillHolds(forwarded, (s) => stepOf(stored, s)?.attempts, step, ctx.now())
      ? forwarded.diff
      : undefined;
  return hydrating(ctx, stored, stepCtx, async () => {
    if (!read) return { outcome: await APPLIES[step](stepCtx, checked(await DIFFS[step](stepCtx))), stored };
    try {
      return { outcome: await APPLIES[step](stepCtx, checked(read)), stored };
    } catch (err) {
      if (!isStaleAnswer(err)) throw err;
      // The tenant changed since the wave: another attempt, which reads first. Counted, so that
      // what was predicted from this step's diff (validation after the connector) is read again.
      const attempts = stepOf(stored, step)?.attempts ?? 0;
      const { stored: latest } = await ctx.write(stored.tenant.tenantId, stored.internals.run, {
        expectAttempt: { step, attempts },
        expectStatus: ["running"],
        steps: { [step]: { countAttempt: true } },
      });
      const again = { ...(await ctx.contextFor(latest, step)), ready };
      return { outcome: await APPLIES[step](again, checked(await DIFFS[step](again))), stored: latest };
    }
  });
}
