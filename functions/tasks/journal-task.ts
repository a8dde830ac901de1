/**
 * Task `Journal`: the connector's validation, then the journal rules (in order), and, as the
 * onboarding workflow's last task, the record of the onboarding's success (there is no
 * RecordOutcome task after it). A drift remediation run then checks the tenant again.
 */

import { JOURNAL_STEPS } from "../../workflows/definition.ts";
import { ConflictError } from "../domain/errors.ts";
import { outcomeChange } from "./outcome.ts";
import { recheckAfterRemediation } from "./remediation-recheck.ts";
import { type AfterSteps, runSteps } from "./run-steps.ts";
import type { TaskContext, TaskHandler } from "./task-context.ts";

/** Tries of the write that records a finished onboarding, and the first backoff (full jitter). */
const FINISH_ATTEMPTS = 4;
const FINISH_BACKOFF_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `checkDrift`: the drift check's handler, for a remediation run's check once it succeeded. */
export function journalTask(ctx: TaskContext, checkDrift: TaskHandler): TaskHandler {
  return runSteps(ctx, JOURNAL_STEPS, "in-order", recordSuccess(ctx, checkDrift));
}

function recordSuccess(ctx: TaskContext, checkDrift: TaskHandler): AfterSteps {
  return async (input, loaded) => {
    const change = await outcomeChange(
      { ...input, outcome: "succeeded" },
      { load: (id) => ctx.load(id, input.run), m365: ctx.gateway, now: ctx.now },
    );
    // Every step is done: a failing store write is tried again here (as RecordOutcome's Retry
    // would), not left to the workflow, which would fail an onboarding that succeeded.
    for (let attempt = 1; ; attempt++) {
      try {
        await ctx.write(input.tenantId, input.run, change);
        await recheckAfterRemediation(loaded, () => checkDrift({ tenantId: input.tenantId, run: input.run }));
        return null;
      } catch (err) {
        // Someone moved the tenant on (a newer run): this outcome is stale, as in RecordOutcome.
        if (err instanceof ConflictError) return null;
        if (attempt >= FINISH_ATTEMPTS) throw err;
        await sleep(FINISH_BACKOFF_MS * 2 ** (attempt - 1) * Math.random());
      }
    }
  };
}
