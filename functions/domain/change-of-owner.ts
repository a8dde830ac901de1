/**
 * A change of owner: the customer's admin consented through another partner's link while the
 * tenant is bound to a partner. It moves what the service owns in the tenant, never what the
 * customer owns:
 * - the previous partner's record ends `offboarded` with TENANT_MOVED (its event says the tenant
 *   moved, nothing about the new partner); a late task of its run is refused (new run);
 * - the new partner's record takes over the service's knowledge of the tenant: objects the
 *   service created stay created by the service, memberships it added stay its own, adopted
 *   objects keep the customer's values from before the service first changed them;
 * - the new partner's onboarding then converges them to its request (`steps/leftovers.ts`), and
 *   its offboarding removes what the service created and restores only the customer's values.
 */
import type { ClaimStore } from "./binding.ts";
import type { ErrorInfo } from "./errors.ts";
import { ConflictError } from "./errors.ts";
import type { StoredTenant, TenantStore } from "./store.ts";
import type { OnboardingRequest } from "./tenant.ts";

/** What binding (and a change of owner) needs: registering, ending the previous record, keeping it readable. */
export interface MovePorts {
  store: Pick<TenantStore, "registerTenant" | "transition">;
  claims: Pick<ClaimStore, "putFormerRecord">;
  now: () => string;
}

export const TENANT_MOVED: ErrorInfo = {
  code: "TENANT_MOVED",
  message:
    "The customer's admin connected this tenant to another provider; what the service set up in the tenant for you no longer journals to your account.",
};

/**
 * The bound record of `partnerId` for the tenant: a new registration, or a change of owner when
 * `current` is another partner's. `changed`: the record changed meanwhile (nothing was moved);
 * `lost`: another binding registered first.
 */
export function registerBound(
  deps: MovePorts,
  current: StoredTenant | undefined,
  partnerId: string,
  request: OnboardingRequest,
  createdAt?: string,
): Promise<StoredTenant | "changed" | "lost"> {
  const asked = createdAt ? { createdAt } : {};
  if (current && current.tenant.partnerId !== partnerId) {
    return moveTenant(deps, current, partnerId, request, asked);
  }
  return registerOrLose(() => deps.store.registerTenant(partnerId, request, deps.now(), asked));
}

/**
 * Ends the previous owner's record and registers the new owner's in its place, with the
 * service's knowledge of the tenant. `current` is the tenant record, bound to another partner.
 * `changed`: the record changed meanwhile (nothing was moved); `lost`: another binding
 * registered first.
 */
async function moveTenant(
  deps: MovePorts,
  current: StoredTenant,
  partnerId: string,
  request: OnboardingRequest,
  asked: { createdAt?: string },
): Promise<StoredTenant | "changed" | "lost"> {
  const { store, claims, now } = deps;
  const { tenantId } = current.tenant;
  if (current.tenant.status === "offboarded") {
    await claims.putFormerRecord(current.tenant, now());
    // Ended by a move whose registration did not happen (a crash in between): take it over now.
    if (current.tenant.error?.code === TENANT_MOVED.code) {
      return registerOrLose(() =>
        store.registerTenant(partnerId, request, now(), {
          ...asked,
          takeOver: { run: current.internals.run },
        }),
      );
    }
    // An owner that offboarded by itself left nothing of the service's: a fresh registration.
    return registerOrLose(() => store.registerTenant(partnerId, request, now(), asked));
  }
  let ended: StoredTenant;
  try {
    ({ stored: ended } = await store.transition(
      tenantId,
      {
        status: "offboarded",
        expectRun: current.internals.run,
        newRun: true,
        error: TENANT_MOVED,
        consentUrl: null,
        missingPermissions: null,
        plan: null,
        approvedPlan: null,
        event: { type: "tenant.offboarding.succeeded", error: TENANT_MOVED },
      },
      now(),
    ));
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return "changed";
  }
  await claims.putFormerRecord(ended.tenant, now());
  return registerOrLose(() =>
    store.registerTenant(partnerId, request, now(), { ...asked, takeOver: { run: ended.internals.run } }),
  );
}

async function registerOrLose(register: () => Promise<StoredTenant>): Promise<StoredTenant | "lost"> {
  try {
    return await register();
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return "lost";
  }
}
