/**
 * How the writing tasks (Configure, Journal, and the previous release's one-step tasks) run their
 * onboarding steps after check-access. `side-by-side` (Configure: connector, journal-settings and
 * groups): one write marks them running. `in-order` (Journal: validation, then the rules): a step
 * starts once the one before it is ready (it called `ctx.ready()`, or succeeded), and is marked
 * running then; one whose predecessor failed does not start. Each records its own success or
 * error, and the task fails only after every started step settled, with an error the workflow
 * retries if any step has one (so a sibling's retryable fault is retried even when another step
 * failed for good; the retry skips what succeeded).
 */

import { StepFailedError } from "../domain/errors.ts";
import type { StoredTenant } from "../domain/store.ts";
import { applicableSteps, type StepName } from "../domain/tenant.ts";
import { applyStep } from "./apply-step.ts";
import {
  retriedByWorkflow,
  runningPatch,
  stepFailed,
  stepOf,
  stepSkipped,
  stepSucceeded,
  withGroups,
} from "./step-records.ts";
import type { TaskContext, TaskHandler, TaskInput } from "./task-context.ts";

export type StepOrder = "side-by-side" | "in-order";

/** What a task does once all its steps succeeded (Journal records the onboarding's success). */
export type AfterSteps = (input: TaskInput, loaded: StoredTenant) => Promise<unknown>;

export function runSteps(
  ctx: TaskContext,
  steps: readonly StepName[],
  order: StepOrder,
  afterSteps: AfterSteps = async () => null,
): TaskHandler {
  return async (input) => {
    const loaded = await ctx.load(input.tenantId, input.run);
    const applicable = applicableSteps(loaded.tenant);
    // A step that failed for good earlier in this run is not run again (its error is recorded).
    const failedBefore = steps.filter((step) => stepOf(loaded, step)?.status === "failed");
    const todo = steps.filter(
      (step) =>
        applicable.has(step) && stepOf(loaded, step)?.status !== "succeeded" && !failedBefore.includes(step),
    );
    for (const step of steps) if (!todo.includes(step)) stepSkipped(ctx, input.tenantId, step);
    const stopIfFailedBefore = () => {
      const step = failedBefore[0];
      if (step === undefined) return;
      const error = stepOf(loaded, step)?.error;
      throw new StepFailedError(
        error?.code ?? "INTERNAL_ERROR",
        `Step ${step} failed in this run: ${error?.message ?? "see the tenant's steps"}`,
      );
    };
    if (todo.length > 0) await runTodo(ctx, input, todo, order, loaded.tenant.groups);
    stopIfFailedBefore();
    return afterSteps(input, loaded);
  };
}

/** Runs the steps to do in `order`; throws (after every started step settled) when one failed. */
async function runTodo(
  ctx: TaskContext,
  input: TaskInput,
  todo: readonly StepName[],
  order: StepOrder,
  groups: StoredTenant["tenant"]["groups"],
): Promise<void> {
  const started = Date.now();
  /** Marks steps running (one write); the groups as loaded (a write's answer may leave out large ones). */
  const markRunningSteps = async (names: readonly StepName[]) => {
    const { stored } = await ctx.write(input.tenantId, input.run, {
      steps: Object.fromEntries(names.map((step) => [step, runningPatch(ctx)])),
      expectStatus: ["running"],
    });
    return withGroups(stored, groups);
  };
  const first = order === "side-by-side" ? todo : todo.slice(0, 1);
  const marked = await markRunningSteps(first);
  let previousReady: Promise<void> = Promise.resolve();
  const runs = todo.map((step) => {
    let ready!: () => void;
    let notReady!: (err: unknown) => void;
    const readyNow = new Promise<void>((resolve, reject) => {
      ready = resolve;
      notReady = reject;
    });
    readyNow.catch(() => undefined);
    const after = order === "in-order" ? previousReady : Promise.resolve();
    previousReady = readyNow;
    const run = async () => {
      try {
        await after;
      } catch (err) {
        notReady(err);
        return; // the step before failed: this one never started
      }
      const stored = first.includes(step) ? marked : await markRunningSteps([step]);
      try {
        const applied = await applyStep(ctx, stored, step, input.diffs?.[step], ready);
        ready();
        await stepSucceeded(ctx, applied.stored, step, started, applied.outcome.changes);
      } catch (err) {
        notReady(err);
        await stepFailed(ctx, stored, step, started, err, !retriedByWorkflow(err));
        throw err;
      }
    };
    return run();
  });
  const results = await Promise.allSettled(runs);
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length > 0) throw failures.find(retriedByWorkflow) ?? failures[0];
}
