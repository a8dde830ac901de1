/**
 * Keeping onboarded tenants configured: drift checks on demand, the latest result, the audit
 * trail of writes, and approval of a plan. Scoped like the rest of the API: a partner sees only
 * its own tenants; another partner's tenant is a TenantNotFoundError.
 */
import { randomBytes } from "node:crypto";
import type { ChangeLogStore, ChangeRecord, RequestedBy } from "./change-log.ts";
import type { DriftResult } from "./drift.ts";
import { type DriftCheckStarter, type WorkflowEngine, workflowInput } from "./engine.ts";
import { ConflictError, TenantNotFoundError, WorkflowStartError } from "./errors.ts";
import type { Page, Principal, StoredTenant, TenantStore } from "./store.ts";
import { DRIFT_CHECKABLE_STATUSES, type Tenant } from "./tenant.ts";

export interface DriftServiceOptions {
  store: TenantStore;
  engine: WorkflowEngine;
  drift?: DriftCheckStarter;
  changeLog?: ChangeLogStore;
  clock?: () => Date;
}

/** A unique id for one drift check: time (base 36) and randomness. */
export function newCheckId(now: Date): string {
  return `${now.getTime().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export class DriftService {
  readonly #store: TenantStore;
  readonly #engine: WorkflowEngine;
  readonly #drift: DriftCheckStarter | undefined;
  readonly #changeLog: ChangeLogStore | undefined;
  readonly #clock: () => Date;

  constructor(options: DriftServiceOptions) {
    this.#store = options.store;
    this.#engine = options.engine;
    this.#drift = options.drift;
    this.#changeLog = options.changeLog;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The latest drift check (undefined: never checked). */
  async getDrift(principal: Principal, tenantId: string): Promise<DriftResult | undefined> {
    return (await this.#visible(principal, tenantId)).tenant.drift;
  }

  /**
   * Starts a check now; only for a `succeeded` tenant (else ConflictError). While a check started
   * by an earlier request runs, it answers this one too: one at a time per tenant, so that a
   * partner looping on the route cannot pile up checks on the task function all partners share.
   */
  async checkNow(principal: Principal, tenantId: string): Promise<Tenant> {
    const { tenant, internals } = await this.#visible(principal, tenantId);
    if (!DRIFT_CHECKABLE_STATUSES.includes(tenant.status)) {
      throw new ConflictError(
        `Tenant ${tenantId} is ${tenant.status}; drift is checked only when ${DRIFT_CHECKABLE_STATUSES.join(", ")}.`,
      );
    }
    if (!this.#drift) throw new WorkflowStartError("Drift checks are not configured on this deployment.");
    const now = this.#clock();
    const claim = this.#store.claimDriftCheck ? await this.#store.claimDriftCheck(tenantId, now) : "";
    if (claim === undefined) return tenant;
    try {
      await this.#drift.startDriftCheck({ tenantId, run: internals.run, check: newCheckId(now) });
    } catch (cause) {
      if (claim) await this.#store.releaseDriftCheck?.(tenantId, claim).catch(() => undefined);
      throw new WorkflowStartError("The drift check could not be started; try again.", { cause });
    }
    return tenant;
  }

  /** The audit trail, newest first. */
  async listChanges(
    principal: Principal,
    tenantId: string,
    query: { limit: number; cursor?: string },
  ): Promise<Page<ChangeRecord>> {
    await this.#visible(principal, tenantId);
    if (!this.#changeLog) return { items: [] };
    return this.#changeLog.pageChanges(tenantId, query);
  }

  /**
   * Approves the plan of a tenant `awaiting_approval` (else ConflictError) and starts the run
   * that applies exactly it; a plan that no longer holds puts the tenant back in
   * `awaiting_approval` with a new plan instead of writing.
   */
  async approve(principal: Principal, tenantId: string): Promise<Tenant> {
    const current = await this.#visible(principal, tenantId);
    const { tenant } = current;
    if (tenant.status !== "awaiting_approval" || !tenant.plan) {
      throw new ConflictError(
        `Tenant ${tenantId} is ${tenant.status}; it can be approved only when awaiting_approval.`,
      );
    }
    const requestedBy: RequestedBy = principal.role === "ops" ? "ops" : "partner";
    const { stored } = await this.#store.transition(
      tenantId,
      {
        status: "queued",
        expectStatus: ["awaiting_approval"],
        expectRun: current.internals.run,
        approvedPlan: tenant.plan,
        plan: null,
        error: null,
        requestedBy,
        newRun: true,
        // check-access runs again: it compares the live tenant with the approved plan first.
        steps: { "check-access": { status: "pending", error: null } },
      },
      this.#clock().toISOString(),
    );
    try {
      await this.#engine.start("onboarding", workflowInput(stored));
    } catch (cause) {
      // Back to where it was, with its plan: nothing was written.
      await this.#store
        .transition(
          tenantId,
          {
            status: "awaiting_approval",
            expectStatus: ["queued"],
            expectRun: stored.internals.run,
            plan: tenant.plan,
            approvedPlan: null,
          },
          this.#clock().toISOString(),
        )
        .catch(() => undefined);
      throw new WorkflowStartError("The onboarding workflow could not be started; approve again.", { cause });
    }
    return stored.tenant;
  }

  /**
   * The owner check comes first, on the tenant item alone: another partner's tenant costs what a
   * tenant that does not exist costs (its groups, stored apart when large, are never read here).
   */
  async #visible(principal: Principal, tenantId: string): Promise<StoredTenant> {
    if (principal.role !== "ops" && !principal.partnerId)
      throw new Error("partner principal without partnerId");
    const stored = await this.#store.getTenant(tenantId, {
      groups: false,
      ...(principal.role !== "ops" && { partnerId: principal.partnerId }),
    });
    if (!stored) {
      throw new TenantNotFoundError(`Tenant ${tenantId} was not found.`);
    }
    return stored;
  }
}
