/**
 * The tenant's lifecycle after registration, scoped to the calling principal: retry
 * (`POST .../retry`), correct (`PATCH`), offboard (`DELETE`). A partner's claim (not bound to
 * it yet) has the same three: a new wait for consent, a corrected request, an end.
 */
import {
  type ClaimStore,
  CONSENT_PENDING,
  claimView,
  reserveCustomerName,
  type StoredClaim,
} from "./binding.ts";
import type { WorkflowEngine } from "./engine.ts";
import { InvalidCorrectionError } from "./errors.ts";
import type { Principal, StepPatch, StoredTenant, TenantStore } from "./store.ts";
import {
  applicableSteps,
  OFFBOARDABLE_STATUSES,
  OFFBOARDING_STEP_NAMES,
  PATCHABLE_STATUSES,
  RETRYABLE_STATUSES,
  STEP_NAMES,
  STEPS_USING_FIELD,
  type StepName,
  type Tenant,
  type TenantCorrection,
  type TenantStatus,
} from "./tenant.ts";
import { type PresentPorts, present, requesterOf, requireStatus, resolveRecord } from "./tenant-records.ts";
import { settleStranded, startWorkflow } from "./workflow-runs.ts";

/** What the lifecycle needs: the tenant's reads and writes, the engine's start and view, the claims. */
export interface LifecyclePorts extends PresentPorts {
  store: Pick<TenantStore, "getTenant" | "transition">;
  engine: Pick<WorkflowEngine, "start" | "describe" | "consistentDescribe">;
  claims?: Pick<ClaimStore, "getClaim" | "listClaims" | "updateClaim" | "reserveCustomerName"> | undefined;
  /** See `StrandedPorts`. */
  strandedConfirmMs: number;
}

/** Where a PATCH of `onDrift` alone is allowed besides PATCHABLE_STATUSES. */
const ON_DRIFT_PATCHABLE_STATUSES: readonly TenantStatus[] = ["succeeded"];

/**
 * @example
 * ```ts
 * const lifecycle = new TenantLifecycle({ store, engine, clock: () => new Date(), strandedConfirmMs: 3000 });
 * await lifecycle.retry({ role: "ops" }, tenantId); // queued, a new onboarding run started
 * ```
 */
export class TenantLifecycle {
  readonly #ports: LifecyclePorts;

  constructor(ports: LifecyclePorts) {
    this.#ports = ports;
  }

  /**
   * Re-queues a `failed` or `awaiting_consent` tenant and starts a new onboarding run; also a
   * stranded one (`workflow-runs.ts`).
   */
  async retry(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await resolveRecord(this.#ports, principal, tenantId);
    if (visible.kind === "claim") return this.#retryClaim(visible.claim);
    const current = await settleStranded(this.#ports, visible.stored);
    requireStatus(current.tenant, RETRYABLE_STATUSES, "retried");
    // Only what did not finish goes back to pending: a retry never re-applies a step that succeeded.
    const steps = Object.fromEntries(
      current.tenant.steps
        .filter((s) => s.status === "failed" || s.status === "running")
        .map((s) => [s.name, { status: "pending" as const, error: null }]),
    );
    const { stored } = await this.#ports.store.transition(
      tenantId,
      {
        status: "queued",
        expectStatus: RETRYABLE_STATUSES,
        expectRun: current.internals.run,
        steps,
        error: null,
        consentUrl: null,
        missingPermissions: null,
        newRun: true,
        requestedBy: requesterOf(principal),
      },
      this.#now(),
    );
    return present(this.#ports, await startWorkflow(this.#ports, "onboarding", stored));
  }

  /**
   * Corrects what the partner asked for (`PATCH`) while the tenant waits in one of
   * PATCHABLE_STATUSES (else ConflictError). The steps that use a changed field go back to
   * `pending` (or `skipped` when no longer needed), so that the next retry applies it; the
   * change is recorded as a `tenant.updated` event (history only, never a webhook).
   */
  async correct(principal: Principal, tenantId: string, correction: TenantCorrection): Promise<Tenant> {
    const visible = await resolveRecord(this.#ports, principal, tenantId, { groups: true });
    if (visible.kind === "claim") return this.#correctClaim(visible.claim, correction);
    const current = await settleStranded(this.#ports, visible.stored);
    const { tenant } = current;
    // onDrift alone changes nothing in the tenant: also settable on an onboarded tenant.
    const onlyOnDrift = Object.entries(correction).every(([k, v]) => k === "onDrift" || v === undefined);
    const allowed: readonly TenantStatus[] = onlyOnDrift
      ? [...PATCHABLE_STATUSES, ...ON_DRIFT_PATCHABLE_STATUSES]
      : PATCHABLE_STATUSES;
    requireStatus(tenant, allowed, "corrected");
    requireSplitForGroups(correction, tenant);
    // A bound tenant's new slug is reserved for it; its old one is free once the change is stored.
    if (correction.customerName) {
      await reserveCustomerName(this.#ports.claims, correction.customerName, tenant, this.#now());
    }
    const steps = stepsToReapply(tenant, correction);
    // The error of a step this correction puts back to pending is answered: no longer shown.
    const answered = !tenant.steps.some((s) => s.status === "failed" && !steps[s.name as StepName]);
    const { stored } = await this.#ports.store.transition(
      tenantId,
      {
        expectStatus: allowed,
        expectRun: current.internals.run,
        correct: correction,
        steps,
        ...(answered && tenant.error && { error: null }),
        event: { type: "tenant.updated" },
      },
      this.#now(),
    );
    return present(this.#ports, stored.tenant);
  }

  /** Starts offboarding from one of OFFBOARDABLE_STATUSES (or stranded); else ConflictError. */
  async offboard(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await resolveRecord(this.#ports, principal, tenantId);
    if (visible.kind === "claim") return this.#endClaim(tenantId, visible.claim);
    const current: StoredTenant = await settleStranded(this.#ports, visible.stored);
    requireStatus(current.tenant, OFFBOARDABLE_STATUSES, "offboarded");
    const { stored } = await this.#ports.store.transition(
      tenantId,
      {
        status: "offboarding",
        expectStatus: OFFBOARDABLE_STATUSES,
        expectRun: current.internals.run,
        error: null,
        consentUrl: null,
        missingPermissions: null,
        ndrAddressKept: null,
        requestedBy: requesterOf(principal),
        // Offboarding's own steps appear on the tenant, pending, in their order.
        steps: Object.fromEntries(
          OFFBOARDING_STEP_NAMES.map((name) => [name, { fresh: true, status: "pending" as const }]),
        ),
        newRun: true,
      },
      this.#now(),
    );
    return present(this.#ports, await startWorkflow(this.#ports, "offboarding", stored));
  }

  /** A claim's retry starts a new 30-day wait for consent (a new consentUrl); nothing else happens. */
  async #retryClaim(claim: StoredClaim): Promise<Tenant> {
    if (claim.former) requireStatus(claim.tenant, RETRYABLE_STATUSES, "retried");
    const view = claimView(claim, this.#ports.clock());
    requireStatus(view, RETRYABLE_STATUSES, "retried");
    const renewed = await this.#ports.claims!.updateClaim(
      claim.tenant.tenantId,
      claim.tenant.partnerId,
      {
        status: "awaiting_consent",
        expectStatus: [claim.tenant.status],
        error: CONSENT_PENDING,
        renew: true,
        ...(view.status !== "awaiting_consent" && {
          event: { type: "tenant.onboarding.awaiting_consent", error: CONSENT_PENDING },
        }),
      },
      this.#now(),
    );
    return present(this.#ports, renewed.tenant);
  }

  async #correctClaim(claim: StoredClaim, correction: TenantCorrection): Promise<Tenant> {
    requireStatus(claimView(claim, this.#ports.clock()), PATCHABLE_STATUSES, "corrected");
    requireSplitForGroups(correction, claim.tenant);
    const corrected = await this.#ports.claims!.updateClaim(
      claim.tenant.tenantId,
      claim.tenant.partnerId,
      { expectStatus: [claim.tenant.status], correct: correction, event: { type: "tenant.updated" } },
      this.#now(),
    );
    return present(this.#ports, claimView(corrected, this.#ports.clock()));
  }

  /** Nothing was done in the tenant for a claim: it simply ends. */
  async #endClaim(tenantId: string, claim: StoredClaim): Promise<Tenant> {
    requireStatus(claimView(claim, this.#ports.clock()), OFFBOARDABLE_STATUSES, "offboarded");
    const ended = await this.#ports.claims!.updateClaim(
      tenantId,
      claim.tenant.partnerId,
      {
        status: "offboarded",
        expectStatus: [claim.tenant.status],
        error: null,
        event: { type: "tenant.offboarding.succeeded" },
      },
      this.#now(),
    );
    return ended.tenant;
  }

  #now(): string {
    return this.#ports.clock().toISOString();
  }
}

function requireSplitForGroups(correction: TenantCorrection, tenant: Pick<Tenant, "region">): void {
  if (correction.groups && tenant.region !== "split") {
    throw new InvalidCorrectionError(
      "groups",
      `Only allowed when region is split (this tenant is ${tenant.region}).`,
    );
  }
}

/** The steps a correction makes run again: back to pending, or skipped when no longer needed. */
function stepsToReapply(tenant: Tenant, correction: TenantCorrection): Partial<Record<StepName, StepPatch>> {
  const changed = (Object.keys(STEPS_USING_FIELD) as (keyof TenantCorrection)[]).filter(
    (field) =>
      correction[field] !== undefined && JSON.stringify(correction[field]) !== JSON.stringify(tenant[field]),
  );
  const affected = new Set<StepName>(changed.flatMap((field) => STEPS_USING_FIELD[field]));
  const used = applicableSteps({ ...tenant, ...correction });
  const steps: Partial<Record<StepName, StepPatch>> = {};
  for (const name of STEP_NAMES) {
    if (!affected.has(name)) continue;
    const initial = used.has(name) ? "pending" : "skipped";
    steps[name] = { status: initial, initialStatus: initial, error: null };
  }
  return steps;
}
