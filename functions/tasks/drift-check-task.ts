/**
 * Task `CheckDrift`: every step's comparison, reads only (`drift-check.ts`); the result recorded
 * on the tenant, an event when the state changed, and with `onDrift: remediate` an onboarding
 * run. A tenant that moved on (another run, no longer `succeeded`) is left alone.
 */

import { DEFAULT_REMEDIATIONS_PER_DAY } from "../domain/drift.ts";
import { workflowInput } from "../domain/engine.ts";
import { ConflictError } from "../domain/errors.ts";
import type { DiffContext, StepDiff } from "../domain/steps/index.ts";
import type { StoredTenant, TenantChange } from "../domain/store.ts";
import { driftOutcome, findDifferences } from "./drift-check.ts";
import type { TaskContext, TaskHandler } from "./task-context.ts";

export function driftCheckTask(ctx: TaskContext): TaskHandler {
  const { deps, write } = ctx;
  return async (input) => {
    const stored = await ctx.store.getTenant(input.tenantId);
    if (stored?.tenant.status !== "succeeded") return null;
    if (input.run !== 0 && stored.internals.run !== input.run) return null;
    const run = stored.internals.run;
    const diffCtx: DiffContext = {
      request: stored.tenant,
      profile: ctx.profile,
      m365: await ctx.m365For(stored, "check-access"),
      owned: stored.internals.owned,
      adopted: stored.internals.adopted,
      objectIds: stored.internals.objectIds,
    };
    const found: StepDiff[] = [];
    const differences = await findDifferences(diffCtx, (diffs) => found.push(...diffs));
    try {
      // A rule or group found by name whose identity was never recorded (onboarded before
      // identities were kept): recorded now, reads only in the tenant, so that a later rename
      // cannot hide it.
      for (const id of identitiesToRecord(found)) await write(input.tenantId, run, { recordId: id });
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return null;
    }
    const perDay = deps.startOnboarding ? (deps.remediationsPerDay ?? DEFAULT_REMEDIATIONS_PER_DAY) : 0;
    const outcome = driftOutcome(stored, differences, ctx.now(), perDay);
    let after: StoredTenant;
    try {
      after = (await write(input.tenantId, run, outcome.change)).stored;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return null;
    }
    if (outcome.remediate && deps.startOnboarding) {
      try {
        await deps.startOnboarding(workflowInput(after));
      } catch (err) {
        const error = {
          code: "WORKFLOW_START_FAILED",
          message: "The onboarding workflow could not be started to repair drift; retry the tenant.",
        };
        await write(input.tenantId, after.internals.run, {
          expectStatus: ["queued"],
          status: "failed",
          error,
          event: { type: "tenant.onboarding.failed", error },
        }).catch(() => undefined);
        throw err;
      }
    }
    return null;
  };
}

/** The identities the diffs would record (bookkeeping a drift check may do: no Exchange write). */
function identitiesToRecord(diffs: readonly StepDiff[]): NonNullable<TenantChange["recordId"]>[] {
  return diffs.flatMap((d) =>
    d.objects.flatMap((o) =>
      o.actions.flatMap((a) => (a.kind === "record-id" ? [{ kind: a.idKind, name: a.name, id: a.id }] : [])),
    ),
  );
}
