/**
 * Task `RecordOutcome`: records how a run ended (the workflow's Catch and end states pass the
 * `outcome`). An outcome for a run the tenant has moved on from (a newer run, an offboarding) is
 * stale and changes nothing.
 */

import { ConflictError } from "../domain/errors.ts";
import type { StepName } from "../domain/tenant.ts";
import { caughtToErrorInfo } from "./caught-error.ts";
import { outcomeChange } from "./outcome.ts";
import type { TaskContext, TaskHandler, TaskInput } from "./task-context.ts";

export function recordOutcomeTask(ctx: TaskContext): TaskHandler {
  return async (input) => {
    try {
      if (input.outcome === "step_failed" && input.steps) {
        await failUnfinishedSteps(ctx, input, input.steps);
        return null;
      }
      const change = await outcomeChange(input, {
        load: (id) => ctx.load(id, input.run),
        m365: ctx.gateway,
        now: ctx.now,
      });
      await ctx.write(input.tenantId, input.run, change);
    } catch (err) {
      // Someone moved the tenant on (a newer run, an offboarding): this outcome is stale.
      if (!(err instanceof ConflictError)) throw err;
    }
    return null;
  };
}

/** A task of several steps failed: each of them that did not succeed fails with its own last error. */
async function failUnfinishedSteps(ctx: TaskContext, input: TaskInput, steps: readonly string[]) {
  const { tenant } = await ctx.load(input.tenantId, input.run);
  for (const s of tenant.steps) {
    if (!steps.includes(s.name)) continue;
    if (s.status !== "running") continue; // a step that never started stays pending
    const error = s.error ?? caughtToErrorInfo(input.error);
    const step = s.name as StepName;
    await ctx.write(input.tenantId, input.run, {
      expectStatus: ["running"],
      steps: { [step]: { status: "failed", finishedAt: ctx.now(), error } },
      event: { type: "tenant.onboarding.step_failed", step, error },
    });
  }
}
