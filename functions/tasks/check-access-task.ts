/**
 * Task `CheckAccess`: the token, Graph GET /organization, the permission preflight and the NDR
 * check, and in the same wave of reads every remaining step's comparison (each read made once).
 * Stops the run for consent, permissions or approval; otherwise returns the diffs that go
 * forward to the writing tasks (Configure, Journal).
 */

import { checkAccess } from "../domain/steps/check-access.ts";
import { type PlannedWrite, type StepDiff, sameWrites } from "../domain/steps/diff.ts";
import { DIFFS, type StepContext } from "../domain/steps/index.ts";
import { forwardable, readingOnce, settleWave, waveSteps } from "../domain/steps/wave.ts";
import type { StoredTenant } from "../domain/store.ts";
import { applicableSteps, STEP_NAMES } from "../domain/tenant.ts";
import { failedDiff } from "./drift-check.ts";
import { runningPatch, stepFailed, stepOf, stepSkipped, stepSucceeded, withGroups } from "./step-records.ts";
import type { Plan, TaskContext, TaskHandler } from "./task-context.ts";

export function checkAccessTask(ctx: TaskContext): TaskHandler {
  return async (input) => {
    let stored = await ctx.load(input.tenantId, input.run);
    const { groups } = stored.tenant;
    const applicable = applicableSteps(stored.tenant);
    const accessDone = stepOf(stored, "check-access")?.status === "succeeded";
    const started = Date.now();
    // The workflow's first task also moves the tenant to running, in the same write.
    stored = await ctx.markRunning(
      stored,
      accessDone ? {} : { steps: { "check-access": runningPatch(ctx) } },
    );
    stored = withGroups(stored, groups);
    if (accessDone) stepSkipped(ctx, input.tenantId, "check-access");
    const stepCtx = await ctx.contextFor(stored, "check-access");
    const wave: StepContext = { ...stepCtx, m365: readingOnce(stepCtx.m365) };
    const later = STEP_NAMES.filter(
      (step) =>
        step !== "check-access" && applicable.has(step) && stepOf(stored, step)?.status !== "succeeded",
    );
    // Every step's comparison for a plan to approve; else a step with large groups reads for itself.
    const reading = stored.tenant.approval === "required" ? later : waveSteps(stored.tenant, later);
    const readAt = ctx.now();
    const [access, ...reads] = await Promise.allSettled([
      accessDone ? Promise.resolve() : checkAccess(wave),
      ...reading.map((step) => DIFFS[step](wave)),
    ]);
    if (access?.status === "rejected") {
      await stepFailed(ctx, stored, "check-access", started, access.reason);
      throw access.reason;
    }
    const { diffs, failures } = settleWave(
      stepCtx,
      Object.fromEntries(reading.map((step, i) => [step, reads[i] as PromiseSettledResult<StepDiff>])),
    );
    if (stored.tenant.approval === "required") {
      const plan = later.flatMap(
        (step) =>
          diffs[step]?.writes ??
          failedDiff(step, failures[step] ?? new Error(`The comparison of step ${step} is missing.`)).writes,
      );
      if (await awaitApproval(ctx, stored, plan)) {
        ctx.deps.onStepResult?.({
          tenantId: input.tenantId,
          step: "check-access",
          outcome: "succeeded",
          durationMs: Date.now() - started,
          changes: [],
        });
        return { diffs: {}, awaitingApproval: true } satisfies Plan;
      }
    }
    if (!accessDone) await stepSucceeded(ctx, stored, "check-access", started, []);
    return {
      diffs: forwardable(diffs, readAt, (step) => (stepOf(stored, step)?.attempts ?? 0) + 1),
    } satisfies Plan;
  };
}

/**
 * approval: required, after check-access: the plan from the live tenant (reads only). Without
 * an approved plan, or when the approved one no longer matches it, the tenant stops in
 * `awaiting_approval` with this plan and nothing is written; returns whether it stopped.
 */
async function awaitApproval(ctx: TaskContext, stored: StoredTenant, plan: PlannedWrite[]): Promise<boolean> {
  const approved = stored.internals.approvedPlan;
  if (approved && sameWrites(plan, approved)) return false;
  const stale = approved
    ? {
        code: "PLAN_STALE",
        message:
          "The tenant changed after the plan was approved; nothing was written. Review the new plan and approve it.",
      }
    : undefined;
  await ctx.write(stored.tenant.tenantId, stored.internals.run, {
    expectStatus: ["running"],
    status: "awaiting_approval",
    plan,
    approvedPlan: null,
    error: stale ?? null,
    steps: { "check-access": { status: "succeeded", finishedAt: ctx.now(), error: null } },
    event: { type: "tenant.onboarding.awaiting_approval", ...(stale ? { error: stale } : {}) },
  });
  return true;
}
