/**
 * Task `RecheckPermissions`: a tenant in `awaiting_permissions` looks again by itself, with reads
 * only, whether the app may now run what its onboarding needs. Role assignments take up to an
 * hour to reach Exchange, so the customer's admin's grant often lands after the onboarding
 * stopped. The workflow retries this task with backoff for a few hours (PermissionMissingError);
 * once every role is there, the tenant is queued again in the same run and the workflow goes on
 * from check-access, as a retry would.
 */
import { ConflictError, PermissionMissingError } from "../domain/errors.ts";
import type { M365Gateway } from "../domain/m365.ts";
import { describeMissing } from "../domain/permissions.ts";
import type { ProviderProfile } from "../domain/provider.ts";
import { diffAccess } from "../domain/steps/check-access.ts";
import type { TenantStore } from "../domain/store.ts";

export interface RecheckDeps {
  store: TenantStore;
  gateway: () => Promise<M365Gateway>;
  profile: ProviderProfile;
  now: () => string;
}

/** What the task returns to the workflow: go on from check-access, or stop (still waiting). */
export interface RecheckResult {
  granted: boolean;
}

export function recheckPermissions(deps: RecheckDeps) {
  return async (input: { tenantId: string; run: number }): Promise<RecheckResult> => {
    const stored = await deps.store.getTenant(input.tenantId);
    // A retry, a correction's new run or offboarding took over: this run has nothing left to do.
    if (!stored || stored.internals.run !== input.run || stored.tenant.status !== "awaiting_permissions") {
      return { granted: false };
    }
    const m365 = (await deps.gateway()).tenant(input.tenantId);
    const diff = await diffAccess({
      request: stored.tenant,
      profile: deps.profile,
      m365,
      owned: stored.internals.owned,
    });
    if (diff.missingPermissions) {
      throw new PermissionMissingError(
        `The app still may not run ${describeMissing(diff.missingPermissions)} in this tenant.`,
        diff.missingPermissions,
      );
    }
    try {
      await deps.store.transition(
        input.tenantId,
        {
          expectStatus: ["awaiting_permissions"],
          expectRun: input.run,
          status: "queued",
          error: null,
          missingPermissions: null,
          steps: { "check-access": { status: "pending", error: null } },
        },
        deps.now(),
      );
    } catch (err) {
      if (err instanceof ConflictError) return { granted: false };
      throw err;
    }
    return { granted: true };
  };
}
