/**
 * Task `Offboard`: one part of offboarding (`input.part`, one of its steps), each a Task state of
 * the offboarding workflow: removes what the service created in the customer's tenant and
 * restores what it changed (`functions/domain/steps/offboard.ts`).
 */

import { ConflictError, toErrorInfo } from "../domain/errors.ts";
import { offboard } from "../domain/steps/offboard.ts";
import { OFFBOARDING_STEP_NAMES } from "../domain/tenant.ts";
import { hydrating } from "./organization-customization.ts";
import type { TaskContext, TaskHandler } from "./task-context.ts";

export function offboardTask(ctx: TaskContext): TaskHandler {
  const { write, now } = ctx;
  return async (input) => {
    const step = input.part;
    if (!step || !(OFFBOARDING_STEP_NAMES as readonly string[]).includes(step)) {
      throw new ConflictError("Offboard needs one of offboarding's steps as its part.");
    }
    const stored = (
      await write(input.tenantId, input.run, {
        expectStatus: ["offboarding"],
        steps: { [step]: { status: "running", countAttempt: true, startedAt: now(), error: null } },
      })
    ).stored;
    const stepCtx = await ctx.contextFor(stored, step);
    try {
      const outcome = await hydrating(ctx, stored, stepCtx, () =>
        offboard(
          {
            ...stepCtx,
            previousNdrTo: stored.internals.previousNdrTo,
            ndrAddressSet: stored.internals.ndrAddressSet,
          },
          step,
        ),
      );
      await write(input.tenantId, input.run, {
        expectStatus: ["offboarding"],
        steps: {
          [step]: { status: outcome.skipped ? "skipped" : "succeeded", finishedAt: now(), error: null },
        },
        ...(outcome.ndrAddressKept ? { ndrAddressKept: true } : {}),
      });
      return null;
    } catch (err) {
      // The last error stays visible while the workflow retries; the outcome marks it failed.
      await write(input.tenantId, input.run, { steps: { [step]: { error: toErrorInfo(err) } } }).catch(
        () => undefined,
      );
      throw err;
    }
  };
}
