/**
 * How a task records its steps on the tenant: running, a failed attempt (its error visible while
 * the workflow retries), a success with its event, a skip; each told to `onStepResult` too.
 */

import { WORKFLOW_RETRIED_ERRORS } from "../../workflows/definition.ts";
import { PermissionMissingError, toErrorInfo } from "../domain/errors.ts";
import type { StoredTenant, TenantChange } from "../domain/store.ts";
import type { StepName } from "../domain/tenant.ts";
import { waitingPatch } from "./hydration-wait.ts";
import type { TaskContext } from "./task-context.ts";

/** Whether the workflow retries the task that threw `err` (so a retry can still succeed). */
export const retriedByWorkflow = (err: unknown): boolean =>
  err instanceof Error && WORKFLOW_RETRIED_ERRORS.has(err.name);

/** `stored` with the groups as loaded: a write's answer may leave out large ones, stored apart. */
export const withGroups = (stored: StoredTenant, groups: StoredTenant["tenant"]["groups"]): StoredTenant =>
  groups && !stored.tenant.groups ? { ...stored, tenant: { ...stored.tenant, groups } } : stored;

/** The step's record on the tenant. */
export const stepOf = (stored: StoredTenant, step: StepName) =>
  stored.tenant.steps.find((s) => s.name === step);

/** The patch that marks a step running for a new attempt. */
export const runningPatch = (ctx: TaskContext) => ({
  status: "running" as const,
  countAttempt: true,
  startedAt: ctx.now(),
  error: null,
  progress: null,
  waitingUntil: null,
});

/** Records a step's failed attempt: the error stays visible while the workflow retries; the Catch marks it failed. */
export async function stepFailed(
  ctx: TaskContext,
  stored: StoredTenant,
  step: StepName,
  started: number,
  err: unknown,
  final = false,
): Promise<void> {
  const error = toErrorInfo(err);
  // A permission error also records what is missing, for `awaiting_permissions`.
  const missing =
    err instanceof PermissionMissingError
      ? { missingPermissions: err.missing.map((m) => ({ cmdlet: m.cmdlet, role: m.role })) }
      : {};
  // `final`: an error the workflow does not retry fails the step now (its siblings may still be
  // retried; a retry of the task does not run it again).
  const change: TenantChange = final
    ? {
        expectStatus: ["running"],
        steps: { [step]: { status: "failed", finishedAt: ctx.now(), error } },
        event: { type: "tenant.onboarding.step_failed", step, error },
      }
    : { steps: { [step]: { error, ...waitingPatch(err) } } };
  await ctx
    .write(stored.tenant.tenantId, stored.internals.run, { ...change, ...missing })
    .catch(() => undefined);
  ctx.deps.onStepResult?.({
    tenantId: stored.tenant.tenantId,
    step,
    outcome: "failed",
    durationMs: Date.now() - started,
    changes: [],
    error,
    ...(err instanceof Error && { rawMessage: err.message }),
  });
}

/** Records a step's success (fenced by its attempt) with its event. */
export async function stepSucceeded(
  ctx: TaskContext,
  stored: StoredTenant,
  step: StepName,
  started: number,
  changes: string[],
): Promise<void> {
  const attempts = stepOf(stored, step)?.attempts;
  await ctx.write(stored.tenant.tenantId, stored.internals.run, {
    ...(attempts !== undefined && { expectAttempt: { step, attempts } }),
    expectStatus: ["running"],
    steps: { [step]: { status: "succeeded", finishedAt: ctx.now(), error: null, progress: null } },
    event: { type: "tenant.onboarding.step_succeeded", step },
  });
  ctx.deps.onStepResult?.({
    tenantId: stored.tenant.tenantId,
    step,
    outcome: "succeeded",
    durationMs: Date.now() - started,
    changes,
  });
}

/** Tells `onStepResult` that a step had nothing to do in this attempt. */
export const stepSkipped = (ctx: TaskContext, tenantId: string, step: StepName) =>
  ctx.deps.onStepResult?.({ tenantId, step, outcome: "skipped", durationMs: 0, changes: [] });
