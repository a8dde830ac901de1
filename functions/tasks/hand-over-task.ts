/**
 * The HandOver task: the onboarding workflow's first state on a record that took a tenant over
 * from another partner (step `hand-over` not yet succeeded). It stops the previous owner's
 * journaling (`functions/domain/steps/hand-over.ts`) before CheckAccess, so before any approval
 * stop, permission wait or failure of the new onboarding. Its writes are recorded in the audit
 * trail as step `hand-over`; its events go to the new owner's record only.
 */
import { toErrorInfo } from "../domain/errors.ts";
import { handOver } from "../domain/steps/hand-over.ts";
import type { StepContext } from "../domain/steps/index.ts";
import type { StoredTenant, TenantChange } from "../domain/store.ts";
import { type AnyStepName, HAND_OVER_STEP } from "../domain/tenant.ts";
import type { StepResult, TaskHandler } from "./task-context.ts";

export interface HandOverDeps {
  load(tenantId: string, run: number): Promise<StoredTenant>;
  write(tenantId: string, run: number, change: TenantChange): Promise<unknown>;
  /** queued -> running (with the started event) plus `extra`, in one write. */
  markRunning(stored: StoredTenant, extra: TenantChange): Promise<StoredTenant>;
  contextFor(stored: StoredTenant, step: AnyStepName): Promise<StepContext>;
  now(): string;
  /** Told of the step's result (logging, metrics). */
  onStepResult?: ((result: StepResult) => void) | undefined;
}

/** Whether the record still has its hand-over to do (the workflow input says so to the first state). */
export function handOverPending(stored: StoredTenant): boolean {
  const step = stored.tenant.steps.find((s) => s.name === HAND_OVER_STEP);
  return step !== undefined && step.status !== "succeeded";
}

export function handOverTask(deps: HandOverDeps): TaskHandler {
  const { write, now } = deps;
  return async (input) => {
    let stored = await deps.load(input.tenantId, input.run);
    if (!handOverPending(stored)) return null;
    const step = HAND_OVER_STEP;
    stored = await deps.markRunning(stored, {
      steps: { [step]: { status: "running", countAttempt: true, startedAt: now(), error: null } },
    });
    const attempts = stored.tenant.steps.find((s) => s.name === step)?.attempts ?? 0;
    const started = Date.now();
    const result = (outcome: StepResult["outcome"], changes: string[]): StepResult => ({
      tenantId: input.tenantId,
      step,
      outcome,
      durationMs: Date.now() - started,
      changes,
    });
    let changes: string[];
    try {
      changes = await handOver(await deps.contextFor(stored, step));
    } catch (err) {
      // The last error stays visible while the workflow retries; its Catch marks the step failed.
      const error = toErrorInfo(err);
      await write(input.tenantId, input.run, { steps: { [step]: { error } } }).catch(() => undefined);
      deps.onStepResult?.({ ...result("failed", []), error });
      throw err;
    }
    await write(input.tenantId, input.run, {
      expectAttempt: { step, attempts },
      expectStatus: ["running"],
      steps: { [step]: { status: "succeeded", finishedAt: now(), error: null } },
      event: { type: "tenant.onboarding.step_succeeded", step },
    });
    deps.onStepResult?.(result("succeeded", changes));
    return null;
  };
}
