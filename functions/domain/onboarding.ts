/**
 * The application service behind the partner API: register a tenant and start its workflow,
 * retry, offboard, read and list, all scoped to the calling principal. Domain logic only: the
 * store and the workflow engine are ports, HTTP lives in `functions/api/`.
 *
 * Visibility rule: a partner sees only its own tenants; another partner's tenant is a
 * `TenantNotFoundError`, indistinguishable from a tenant that does not exist.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  type ClaimStore,
  CONSENT_PENDING,
  type ConsentLinks,
  CUSTOMER_NAME_TAKEN,
  claimExpired,
  claimView,
  partnerConsentUrl,
  type StoredClaim,
  TENANT_BOUND_ELSEWHERE,
} from "./binding.ts";
import type { ChangeLogStore } from "./change-log.ts";
import { registerBound, TENANT_MOVED } from "./change-of-owner.ts";
import { type ConsentAnswer, type ConsentOutcome, consentCallback } from "./consent-flow.ts";
import { type WorkflowEngine, type WorkflowKind, workflowInput } from "./engine.ts";
import {
  ConflictError,
  type ErrorInfo,
  InvalidCorrectionError,
  TenantNotFoundError,
  WorkflowStartError,
} from "./errors.ts";
import { type AdminExchangeAccess, setUpBeforeRun } from "./least-privilege-consent.ts";
import type {
  ApiKeyInfo,
  Page,
  Partner,
  Principal,
  StepPatch,
  StoredTenant,
  TenantChange,
  TenantStore,
} from "./store.ts";
import {
  applicableSteps,
  type EventType,
  OFFBOARDABLE_STATUSES,
  OFFBOARDING_STEP_NAMES,
  type OnboardingRequest,
  PATCHABLE_STATUSES,
  RETRYABLE_STATUSES,
  STEP_NAMES,
  STEPS_USING_FIELD,
  type StepName,
  type Tenant,
  type TenantCorrection,
  type TenantEvent,
  type TenantStatus,
} from "./tenant.ts";

export interface OnboardingServiceOptions {
  store: TenantStore;
  engine: WorkflowEngine;
  /** @default () => new Date() */
  clock?: () => Date;
  /**
   * Binding by consent (functions/domain/binding.ts): both runtimes wire it in. Without it (the
   * API's unit tests only) a POST registers and starts onboarding at once.
   */
  binding?: { claims: ClaimStore; links?: ConsentLinks; changeLog?: ChangeLogStore };
  /**
   * With an eventually consistent engine: how long to wait before the second look that confirms
   * a run is stranded. @default 3000
   */
  strandedConfirmMs?: number;
}

/** A run this long after the tenant's last change is judged on one look at the engine. */
export const STRANDED_SETTLED_MS = 5 * 60_000;

export type { ConsentAnswer, ConsentOutcome } from "./consent-flow.ts";

/** A partner's record of a tenant: the bound tenant, or its claim (not bound to it). */
type Visible = { kind: "tenant"; stored: StoredTenant } | { kind: "claim"; claim: StoredClaim };

export interface TenantListQuery {
  status?: TenantStatus;
  limit: number;
  cursor?: string;
  /** Ops only: one partner's tenants. For a partner it can only narrow to itself. */
  partnerId?: string;
}

/** Statuses in which a workflow of that kind holds the tenant. */
export const IN_FLIGHT: Readonly<Partial<Record<TenantStatus, WorkflowKind>>> = {
  queued: "onboarding",
  running: "onboarding",
  offboarding: "offboarding",
};

const STRANDED_ERROR: ErrorInfo = {
  code: "INTERRUPTED",
  message:
    "The workflow stopped without recording an outcome (aborted, timed out or never started); retry the tenant.",
};

/**
 * How a stranded tenant is recorded: before a retry or DELETE acts on it, and when the engine
 * reports an execution that ended without recording its outcome.
 */
export const STRANDED: Readonly<Record<WorkflowKind, TenantChange>> = {
  onboarding: {
    status: "failed",
    error: STRANDED_ERROR,
    event: { type: "tenant.onboarding.failed", error: STRANDED_ERROR },
  },
  offboarding: {
    status: "offboarding_failed",
    error: STRANDED_ERROR,
    event: { type: "tenant.offboarding.failed", error: STRANDED_ERROR },
  },
};

/** What happens to a tenant when its workflow cannot be started. */
const START_FAILURE: Record<WorkflowKind, { status: TenantStatus; from: TenantStatus; event: EventType }> = {
  onboarding: { status: "failed", from: "queued", event: "tenant.onboarding.failed" },
  offboarding: { status: "offboarding_failed", from: "offboarding", event: "tenant.offboarding.failed" },
};

/**
 * Tenant onboarding use cases.
 *
 * @example
 * ```ts
 * const onboarding = new OnboardingService({ store, engine });
 * const tenant = await onboarding.register("partner-1", request); // status "queued", workflow started
 * ```
 */
export class OnboardingService {
  readonly #store: TenantStore;
  readonly #engine: WorkflowEngine;
  readonly #clock: () => Date;
  readonly #binding: OnboardingServiceOptions["binding"];
  readonly #strandedConfirmMs: number;

  constructor(options: OnboardingServiceOptions) {
    this.#store = options.store;
    this.#engine = options.engine;
    this.#clock = options.clock ?? (() => new Date());
    this.#binding = options.binding;
    this.#strandedConfirmMs = options.strandedConfirmMs ?? 3000;
  }

  /**
   * Registers the tenant for the partner (status `queued`) and starts onboarding.
   * Throws ConflictError when the tenantId is taken (anything but `offboarded`), and
   * WorkflowStartError when the engine refused (the tenant is then `failed` and retryable).
   */
  async register(partnerId: string, request: OnboardingRequest): Promise<Tenant> {
    const binding = this.#binding;
    if (binding) {
      // Bound to this partner (also an offboarded one it may onboard again): registered as ever.
      // Not bound to it (new, unconsented, another partner's, or ended by a move): a claim waits
      // for consent, and reserves nothing (its customerName is reserved at binding).
      const own = await this.#store.getTenant(request.tenantId, { partnerId });
      if (!own || own.tenant.error?.code === TENANT_MOVED.code) {
        const claim = await binding.claims.putClaim(partnerId, request, this.#now());
        return this.#present(claimView(claim, this.#clock()));
      }
      await this.#reserveCustomerName(request.customerName, { ...request, partnerId });
    }
    let stored: StoredTenant;
    try {
      stored = await this.#store.registerTenant(partnerId, request, this.#now());
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      // The id is global, so another partner learns that it is taken, but nothing more.
      const current = await this.#store.getTenant(request.tenantId, { groups: false });
      if (current?.tenant.partnerId === partnerId) throw err;
      throw new ConflictError(`Tenant ${request.tenantId} is already registered.`, { cause: err });
    }
    return this.#startWorkflow("onboarding", stored);
  }

  /** The tenant, if the principal may see it; else TenantNotFoundError. */
  async getTenant(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await this.#resolve(principal, tenantId);
    return this.#present(
      visible.kind === "claim" ? claimView(visible.claim, this.#clock()) : visible.stored.tenant,
    );
  }

  /** Newest first; partners get their own tenants only. */
  async listTenants(principal: Principal, query: TenantListQuery): Promise<Page<Tenant>> {
    let partnerId = query.partnerId;
    if (principal.role === "partner") {
      if (partnerId !== undefined && partnerId !== principal.partnerId) return { items: [] };
      partnerId = ownPartnerId(principal);
    }
    const page = await this.#store.listTenants({
      limit: query.limit,
      ...(partnerId !== undefined && { partnerId }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    return { ...page, items: page.items.map((t) => this.#present(t)) };
  }

  /**
   * The tenant's event history, oldest first, with an opaque cursor (InvalidCursorError for
   * one the service did not issue for this tenant).
   */
  async listEvents(
    principal: Principal,
    tenantId: string,
    query: { limit: number; cursor?: string },
  ): Promise<Page<TenantEvent>> {
    const visible = await this.#resolve(principal, tenantId);
    if (visible.kind === "claim") return this.#binding!.claims.pageClaimEvents(visible.claim, query);
    return this.#store.pageEvents(tenantId, query);
  }

  /**
   * Re-queues a `failed` or `awaiting_consent` tenant and starts a new onboarding run; also a
   * stranded one (see `#stranded`).
   */
  async retry(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await this.#resolve(principal, tenantId);
    if (visible.kind === "claim") return this.#retryClaim(visible.claim);
    const current = await this.#settled(visible.stored);
    requireStatus(current.tenant, RETRYABLE_STATUSES, "retried");
    // Only what did not finish goes back to pending: a retry never re-applies a step that succeeded.
    const steps = Object.fromEntries(
      current.tenant.steps
        .filter((s) => s.status === "failed" || s.status === "running")
        .map((s) => [s.name, { status: "pending" as const, error: null }]),
    );
    const { stored } = await this.#store.transition(
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
    return this.#startWorkflow("onboarding", stored);
  }

  /**
   * Corrects what the partner asked for (`PATCH`) while the tenant waits in one of
   * PATCHABLE_STATUSES (else ConflictError). The steps that use a changed field go back to
   * `pending` (or `skipped` when no longer needed), so that the next retry applies it; the
   * change is recorded as a `tenant.updated` event (history only, never a webhook).
   */
  async correct(principal: Principal, tenantId: string, correction: TenantCorrection): Promise<Tenant> {
    const visible = await this.#resolve(principal, tenantId, { groups: true });
    if (visible.kind === "claim") return this.#correctClaim(visible.claim, correction);
    const current = await this.#settled(visible.stored);
    const { tenant } = current;
    // onDrift alone changes nothing in the tenant: also settable on an onboarded tenant.
    const onlyOnDrift = Object.entries(correction).every(([k, v]) => k === "onDrift" || v === undefined);
    const allowed: readonly TenantStatus[] = onlyOnDrift
      ? [...PATCHABLE_STATUSES, ...ON_DRIFT_PATCHABLE_STATUSES]
      : PATCHABLE_STATUSES;
    requireStatus(tenant, allowed, "corrected");
    if (correction.groups && tenant.region !== "split") {
      throw new InvalidCorrectionError(
        "groups",
        `Only allowed when region is split (this tenant is ${tenant.region}).`,
      );
    }
    // A bound tenant's new slug is reserved for it; its old one is free once the change is stored.
    if (correction.customerName) await this.#reserveCustomerName(correction.customerName, tenant);
    const changed = (Object.keys(STEPS_USING_FIELD) as (keyof TenantCorrection)[]).filter(
      (field) =>
        correction[field] !== undefined &&
        JSON.stringify(correction[field]) !== JSON.stringify(tenant[field]),
    );
    const affected = new Set<StepName>(changed.flatMap((field) => STEPS_USING_FIELD[field]));
    const used = applicableSteps({ ...tenant, ...correction });
    const steps: Partial<Record<StepName, StepPatch>> = {};
    for (const name of STEP_NAMES) {
      if (!affected.has(name)) continue;
      const initial = used.has(name) ? "pending" : "skipped";
      steps[name] = { status: initial, initialStatus: initial, error: null };
    }
    // The error of a step this correction puts back to pending is answered: no longer shown.
    const answered = !tenant.steps.some((s) => s.status === "failed" && !steps[s.name as StepName]);
    const { stored } = await this.#store.transition(
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
    return this.#present(stored.tenant);
  }

  /** Starts offboarding from one of OFFBOARDABLE_STATUSES (or stranded); else ConflictError. */
  async offboard(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await this.#resolve(principal, tenantId);
    if (visible.kind === "claim") {
      // Nothing was done in the tenant for a claim: it simply ends.
      const claim = visible.claim;
      requireStatus(claimView(claim, this.#clock()), OFFBOARDABLE_STATUSES, "offboarded");
      const ended = await this.#binding!.claims.updateClaim(
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
    const current = await this.#settled(visible.stored);
    requireStatus(current.tenant, OFFBOARDABLE_STATUSES, "offboarded");
    const { stored } = await this.#store.transition(
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
    return this.#startWorkflow("offboarding", stored);
  }

  /**
   * The tenant, with a stranded run (see `#stranded`) first recorded as failed (with its event,
   * as the local runtime's start-up does), so that retry and DELETE treat it like any failure.
   */
  async #settled(stored: StoredTenant): Promise<StoredTenant> {
    const kind = IN_FLIGHT[stored.tenant.status];
    if (!kind || !(await this.#stranded(stored))) return stored;
    const change = STRANDED[kind];
    try {
      const { stored: failed } = await this.#store.transition(
        stored.tenant.tenantId,
        { ...change, expectStatus: [stored.tenant.status], expectRun: stored.internals.run },
        this.#now(),
      );
      return failed;
    } catch (err) {
      // It moved on meanwhile (its workflow did record an outcome): decide on what it is now.
      if (!(err instanceof ConflictError)) throw err;
      return (await this.#store.getTenant(stored.tenant.tenantId, { groups: false })) ?? stored;
    }
  }

  /**
   * A tenant whose status says a workflow holds it (`queued`, `running`, `offboarding`) while
   * the engine has no live execution of its run: the API died between registering and starting
   * it, or the execution was aborted or timed out before it could record the outcome. Any late
   * task of that run is refused by the store (`expectRun`).
   */
  async #stranded(stored: StoredTenant): Promise<boolean> {
    const kind = IN_FLIGHT[stored.tenant.status];
    if (!kind) return false;
    const input = workflowInput(stored);
    if ((await this.#engine.describe(kind, input))?.status === "RUNNING") return false;
    // Step Functions' DescribeExecution is eventually consistent: an execution started a moment
    // ago may not be found yet. Unless the tenant has not changed for a while, look again a few
    // seconds later, and only a run that is still not running is stranded.
    if (this.#engine.consistentDescribe) return true;
    if (this.#clock().getTime() - Date.parse(stored.tenant.updatedAt) >= STRANDED_SETTLED_MS) return true;
    await new Promise((resolve) => setTimeout(resolve, this.#strandedConfirmMs));
    return (await this.#engine.describe(kind, input))?.status !== "RUNNING";
  }

  /**
   * The caller's record of the tenant: the bound tenant, or (partners, with binding) the
   * partner's claim. For a partner, both reads are made whatever their outcome (the tenant
   * item stops at its owner check), so "not yours" costs what "does not exist" costs.
   */
  async #resolve(
    principal: Principal,
    tenantId: string,
    options: { groups?: boolean } = {},
  ): Promise<Visible> {
    const binding = this.#binding;
    if (!binding) return { kind: "tenant", stored: await this.#visible(principal, tenantId, options) };
    if (principal.role === "ops") {
      const stored = await this.#store.getTenant(tenantId, { groups: options.groups === true });
      if (stored) return { kind: "tenant", stored };
      const claims = await binding.claims.listClaims(tenantId);
      const newest = claims.sort((a, b) => b.tenant.updatedAt.localeCompare(a.tenant.updatedAt))[0];
      if (newest) return { kind: "claim", claim: newest };
      throw new TenantNotFoundError(`Tenant ${tenantId} was not found.`);
    }
    const partnerId = ownPartnerId(principal);
    const [stored, claim] = await Promise.all([
      this.#store.getTenant(tenantId, { partnerId, groups: options.groups === true }),
      binding.claims.getClaim(tenantId, partnerId),
    ]);
    if (stored) return { kind: "tenant", stored };
    if (claim) return { kind: "claim", claim };
    throw new TenantNotFoundError(`Tenant ${tenantId} was not found.`);
  }

  /** The consent callback's three legs (functions/domain/consent-flow.ts). */
  async consentCallback(answer: ConsentAnswer): Promise<ConsentOutcome> {
    return consentCallback(answer, {
      links: this.#binding?.links,
      now: this.#clock(),
      partnerName: async (partnerId) => (await this.#store.getPartner(partnerId))?.name,
      bind: (partnerId, tenantId, admin) => this.bind(partnerId, tenantId, "consent", admin),
    });
  }

  /**
   * Binds the tenant to the partner whose open claim it is, and starts that partner's
   * onboarding: the first binding wins; the other open claims end `failed`
   * TENANT_BOUND_ELSEWHERE. A tenant bound to another partner moves (`change-of-owner.ts`): that
   * partner's record ends `offboarded`, readable by it, and the new record takes over what the
   * service owns in the tenant. A binding by ops is recorded in the tenant's
   * history (`tenant.bound_by_ops`).
   */
  async bind(
    partnerId: string,
    tenantId: string,
    by: "consent" | "ops",
    admin?: AdminExchangeAccess,
  ): Promise<ConsentOutcome> {
    const claims = this.#binding?.claims;
    if (!claims) return { kind: "link-not-valid" };
    const current = await this.#store.getTenant(tenantId, { groups: false });
    const claim = await claims.getClaim(tenantId, partnerId);
    const open =
      claim &&
      !claim.former &&
      claim.tenant.status === "awaiting_consent" &&
      !claimExpired(claim, this.#clock());
    if (current && current.tenant.partnerId === partnerId && current.tenant.status !== "offboarded") {
      // Bound already: a consent given again (or given at last in Entra) resumes a waiting tenant.
      if (claim) await claims.deleteClaim(tenantId, partnerId);
      if (current.tenant.status === "awaiting_consent") {
        await this.retry({ role: "ops" }, tenantId).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      }
      return { kind: "already-bound", tenantId };
    }
    if (!open) return { kind: "link-not-valid" };
    if (!(await claims.reserveCustomerName(claim.request.customerName, tenantId, partnerId, this.#now()))) {
      await this.#failClaim(claims, tenantId, partnerId, CUSTOMER_NAME_TAKEN);
      return { kind: "link-not-valid" };
    }

    let stored = await registerBound(
      { store: this.#store, claims, now: () => this.#now() },
      current,
      partnerId,
      claim.request,
      // Created when the partner asked (the claim), not when the customer consented.
      claim.tenant.createdAt,
    );
    if (stored === "changed") return { kind: "link-not-valid" };
    if (stored === "lost") {
      // Another consent bound it a moment earlier: this claim lost.
      await this.#failClaim(claims, tenantId, partnerId);
      return { kind: "link-not-valid" };
    }
    if (by === "ops") {
      // Recorded in the tenant's history (not a webhook): a binding no customer consented to.
      ({ stored } = await this.#store.transition(
        tenantId,
        { expectStatus: ["queued"], expectRun: stored.internals.run, event: { type: "tenant.bound_by_ops" } },
        this.#now(),
      ));
    }
    await claims.deleteClaim(tenantId, partnerId);
    for (const other of await claims.listClaims(tenantId)) {
      if (
        other.tenant.partnerId !== partnerId &&
        !other.former &&
        other.tenant.status === "awaiting_consent"
      ) {
        await this.#failClaim(claims, tenantId, other.tenant.partnerId);
      }
    }
    // The admin's least-privilege setup (their sign-in's Exchange access), before the run starts.
    const { setup } = await setUpBeforeRun(admin, stored, {
      store: this.#store,
      now: () => this.#now(),
      ...this.#binding,
    });
    await this.#startWorkflow("onboarding", stored).catch((err: unknown) => {
      // The tenant is bound and failed (retryable): the partner sees it.
      if (!(err instanceof WorkflowStartError)) throw err;
    });
    return { kind: "bound", tenantId, ...(setup && { setup }) };
  }

  async #failClaim(
    claims: ClaimStore,
    tenantId: string,
    partnerId: string,
    error: ErrorInfo = TENANT_BOUND_ELSEWHERE,
  ): Promise<void> {
    await claims
      .updateClaim(
        tenantId,
        partnerId,
        {
          status: "failed",
          expectStatus: ["awaiting_consent"],
          error,
          event: { type: "tenant.onboarding.failed", error },
        },
        this.#now(),
      )
      .catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      });
  }

  /** A claim's retry starts a new 30-day wait for consent (a new consentUrl); nothing else happens. */
  async #retryClaim(claim: StoredClaim): Promise<Tenant> {
    if (claim.former) requireStatus(claim.tenant, RETRYABLE_STATUSES, "retried");
    const view = claimView(claim, this.#clock());
    requireStatus(view, RETRYABLE_STATUSES, "retried");
    const renewed = await this.#binding!.claims.updateClaim(
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
    return this.#present(renewed.tenant);
  }

  async #correctClaim(claim: StoredClaim, correction: TenantCorrection): Promise<Tenant> {
    requireStatus(claimView(claim, this.#clock()), PATCHABLE_STATUSES, "corrected");
    if (correction.groups && claim.tenant.region !== "split") {
      throw new InvalidCorrectionError(
        "groups",
        `Only allowed when region is split (this tenant is ${claim.tenant.region}).`,
      );
    }
    const corrected = await this.#binding!.claims.updateClaim(
      claim.tenant.tenantId,
      claim.tenant.partnerId,
      { expectStatus: [claim.tenant.status], correct: correction, event: { type: "tenant.updated" } },
      this.#now(),
    );
    return this.#present(claimView(corrected, this.#clock()));
  }

  /** For a tenant bound to the caller only: a claim reserves nothing and learns nothing. */
  async #reserveCustomerName(
    customerName: string,
    bound: { tenantId: string; partnerId: string },
  ): Promise<void> {
    const claims = this.#binding?.claims;
    if (
      claims &&
      !(await claims.reserveCustomerName(customerName, bound.tenantId, bound.partnerId, this.#now()))
    ) {
      throw new ConflictError(
        `customerName ${customerName} is the account of another partner's customer tenant (${CUSTOMER_NAME_TAKEN.code}); choose another.`,
      );
    }
  }

  /** A tenant waiting for consent shows the consent URL issued to its partner (fresh signed state). */
  #present(tenant: Tenant): Tenant {
    const links = this.#binding?.links;
    if (!links || tenant.status !== "awaiting_consent") return tenant;
    const consentUrl = partnerConsentUrl(
      links,
      { partnerId: tenant.partnerId, tenantId: tenant.tenantId },
      this.#clock(),
    );
    return { ...tenant, consentUrl };
  }

  /** Without `groups` unless asked: the API never shows them, and large ones are stored apart. */
  async #visible(
    principal: Principal,
    tenantId: string,
    options: { groups?: boolean } = {},
  ): Promise<StoredTenant> {
    // The owner check comes first, before anything else of the tenant is read.
    const stored = await this.#store.getTenant(tenantId, {
      groups: options.groups === true,
      ...(principal.role === "ops" ? {} : { partnerId: ownPartnerId(principal) }),
    });
    if (!stored) {
      throw new TenantNotFoundError(`Tenant ${tenantId} was not found.`);
    }
    return stored;
  }

  async #startWorkflow(kind: WorkflowKind, stored: StoredTenant): Promise<Tenant> {
    const { tenantId } = stored.tenant;
    try {
      await this.#engine.start(kind, workflowInput(stored));
      return this.#present(stored.tenant);
    } catch (cause) {
      const failure = START_FAILURE[kind];
      const error: ErrorInfo = {
        code: "WORKFLOW_START_FAILED",
        message: `The ${kind} workflow could not be started; retry the tenant.`,
      };
      await this.#store
        .transition(
          tenantId,
          {
            status: failure.status,
            expectStatus: [failure.from],
            error,
            event: { type: failure.event, error },
          },
          this.#now(),
        )
        // The workflow may have started after all and moved the tenant on: its state wins.
        .catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      throw new WorkflowStartError(error.message, { cause });
    }
  }

  #now(): string {
    return this.#clock().toISOString();
  }
}

function requireStatus(tenant: Tenant, allowed: readonly TenantStatus[], verb: string): void {
  if (!allowed.includes(tenant.status)) {
    throw new ConflictError(
      `Tenant ${tenant.tenantId} is ${tenant.status}; it can be ${verb} only when ${allowed.join(", ")}.`,
    );
  }
}

/** Where a PATCH of `onDrift` alone is allowed besides PATCHABLE_STATUSES. */
const ON_DRIFT_PATCHABLE_STATUSES: readonly TenantStatus[] = ["succeeded"];

/** Who asked, as the audit trail records it. */
function requesterOf(principal: Principal): "partner" | "ops" {
  return principal.role === "ops" ? "ops" : "partner";
}

function ownPartnerId(principal: Principal): string {
  // A partner principal without a partnerId would see everything: refuse loudly instead.
  if (!principal.partnerId) throw new Error("partner principal without partnerId");
  return principal.partnerId;
}

/** Prefix of every partner API key: makes leaked keys easy to find by secret scanners. */
export const API_KEY_PREFIX = "jok_";
/** `jok_` + 32 random bytes in base64url. */
export const API_KEY_PATTERN = /^jok_[A-Za-z0-9_-]{43}$/;
/** Prefix of a generated ops key: tells an ops key from a partner key at a glance (and to scanners). */
export const OPS_KEY_PREFIX = "jops_";

/** A new high-entropy API key (256 bits). Show it once; store only {@link hashApiKey}. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** A new ops key, `jops_` + 32 random bytes in base64url. */
export function generateOpsKey(): string {
  return OPS_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** SHA-256 (hex) of a key: what the store keeps and looks up. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time comparison of two hex SHA-256 hashes. */
export function sameKeyHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}

/** Active keys a partner may hold at once (rotation needs two; a few spare for several portals). */
export const MAX_KEYS_PER_PARTNER = 10;

/** Not found: an unknown partner, or a key id this partner does not hold. */
export class PartnerKeyNotFoundError extends Error {
  override readonly name = "PartnerKeyNotFoundError";
}

/**
 * Where per-partner request limits are enforced outside this process (API Gateway usage plans
 * in AWS). `ensurePartner` is idempotent; it answers whether the partner now has its own limit.
 */
export interface PartnerLimits {
  ensurePartner(partnerId: string): Promise<boolean>;
}

/**
 * Partner administration (ops): a partner and its first API key are created together; more
 * keys can be issued and any one revoked. A key is returned once and only its hash is stored.
 */
export class PartnerService {
  readonly #store: TenantStore;
  readonly #clock: () => Date;
  readonly #limits: PartnerLimits | undefined;

  constructor(options: { store: TenantStore; clock?: () => Date; limits?: PartnerLimits }) {
    this.#store = options.store;
    this.#clock = options.clock ?? (() => new Date());
    this.#limits = options.limits;
  }

  async createPartner(name: string): Promise<{ partner: Partner; apiKey: string; keyId: string }> {
    const partner = await this.#store.createPartner(name, this.#clock().toISOString());
    const { apiKey, keyId } = await this.#issueKey(partner.partnerId);
    return { partner, apiKey, keyId };
  }

  listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>> {
    return this.#store.listPartners(query);
  }

  /** A further key for the partner (rotation); PartnerKeyNotFoundError for an unknown partner. */
  async createKey(partnerId: string): Promise<ApiKeyInfo & { apiKey: string }> {
    if (!(await this.#store.getPartner(partnerId))) {
      throw new PartnerKeyNotFoundError(`Partner ${partnerId} was not found.`);
    }
    // The limit is enforced by the store, atomically (ConflictError past it).
    return this.#issueKey(partnerId);
  }

  /** The partner's active keys (ids and dates, never the key); PartnerKeyNotFoundError for an unknown partner. */
  async listKeys(partnerId: string): Promise<ApiKeyInfo[]> {
    if (!(await this.#store.getPartner(partnerId))) {
      throw new PartnerKeyNotFoundError(`Partner ${partnerId} was not found.`);
    }
    return this.#store.listApiKeys(partnerId);
  }

  /** Revokes one key at once (its lookup fails from now on); PartnerKeyNotFoundError when not held. */
  async revokeKey(partnerId: string, keyId: string): Promise<void> {
    if (!(await this.#store.revokeApiKey(partnerId, keyId))) {
      throw new PartnerKeyNotFoundError(`Key ${keyId} of partner ${partnerId} was not found.`);
    }
  }

  async #issueKey(partnerId: string): Promise<ApiKeyInfo & { apiKey: string }> {
    // The partner's own rate limit exists before its key does (AWS: a usage plan key).
    const usageKey = (await this.#limits?.ensurePartner(partnerId)) ?? false;
    const apiKey = generateApiKey();
    const keyId = `key_${randomBytes(8).toString("hex")}`;
    const createdAt = this.#clock().toISOString();
    await this.#store.putApiKey(hashApiKey(apiKey), { role: "partner", partnerId }, createdAt, {
      keyId,
      usageKey,
      maxKeys: MAX_KEYS_PER_PARTNER,
    });
    return { keyId, createdAt, apiKey };
  }
}
