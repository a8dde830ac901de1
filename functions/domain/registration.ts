/**
 * Registration and binding: a partner asks to onboard a tenant (`POST /v1/tenants`), and the
 * tenant is bound to that partner when its customer's admin consents (or ops binds it by hand);
 * then onboarding starts. With binding by consent, a tenant not bound to the partner gets a
 * claim that waits for consent and reserves nothing.
 */
import {
  type ClaimStore,
  type ConsentLinks,
  CUSTOMER_NAME_TAKEN,
  claimExpired,
  claimView,
  reserveCustomerName,
  TENANT_BOUND_ELSEWHERE,
} from "./binding.ts";
import type { ChangeLogStore } from "./change-log.ts";
import { registerBound, TENANT_MOVED } from "./change-of-owner.ts";
import { type ConsentAnswer, type ConsentOutcome, consentCallback } from "./consent-flow.ts";
import type { WorkflowEngine } from "./engine.ts";
import { ConflictError, type ErrorInfo, WorkflowStartError } from "./errors.ts";
import { type AdminExchangeAccess, setUpBeforeRun } from "./least-privilege-consent.ts";
import { setUpPermissions, waitingForPermissions } from "./permissions-link.ts";
import type { Principal, StoredTenant, TenantStore } from "./store.ts";
import type { OnboardingRequest, Tenant } from "./tenant.ts";
import { type PresentPorts, present } from "./tenant-records.ts";
import { startWorkflow } from "./workflow-runs.ts";

/** What registration and binding need; `claims` is absent without binding by consent. */
export interface RegistrationPorts extends PresentPorts {
  store: Pick<TenantStore, "getTenant" | "registerTenant" | "transition" | "getPartner">;
  engine: Pick<WorkflowEngine, "start">;
  claims?:
    | Pick<
        ClaimStore,
        | "putClaim"
        | "getClaim"
        | "deleteClaim"
        | "listClaims"
        | "updateClaim"
        | "reserveCustomerName"
        | "putFormerRecord"
      >
    | undefined;
  links?: ConsentLinks | undefined;
  changeLog?: ChangeLogStore | undefined;
  /** A tenant bound already and waiting for consent resumes by a retry (the tenant's lifecycle). */
  resume: { retry(principal: Principal, tenantId: string): Promise<Tenant> };
}

/**
 * @example
 * ```ts
 * const registration = new Registration({ store, engine, claims, links, clock, resume: lifecycle });
 * await registration.register("p_1", request); // awaiting_consent: a claim with its consent link
 * ```
 */
export class Registration {
  readonly #ports: RegistrationPorts;

  constructor(ports: RegistrationPorts) {
    this.#ports = ports;
  }

  /**
   * Registers the tenant for the partner (status `queued`) and starts onboarding.
   * Throws ConflictError when the tenantId is taken (anything but `offboarded`), and
   * WorkflowStartError when the engine refused (the tenant is then `failed` and retryable).
   */
  async register(partnerId: string, request: OnboardingRequest): Promise<Tenant> {
    const { store, claims } = this.#ports;
    if (claims) {
      // Bound to this partner (also an offboarded one it may onboard again): registered as ever.
      // Not bound to it (new, unconsented, another partner's, or ended by a move): a claim waits
      // for consent, and reserves nothing (its customerName is reserved at binding).
      const own = await store.getTenant(request.tenantId, { partnerId });
      if (!own || own.tenant.error?.code === TENANT_MOVED.code) {
        const claim = await claims.putClaim(partnerId, request, this.#now());
        return present(this.#ports, claimView(claim, this.#ports.clock()));
      }
      await reserveCustomerName(claims, request.customerName, { ...request, partnerId }, this.#now());
    }
    let stored: StoredTenant;
    try {
      stored = await store.registerTenant(partnerId, request, this.#now());
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      // The id is global, so another partner learns that it is taken, but nothing more.
      const current = await store.getTenant(request.tenantId, { groups: false });
      if (current?.tenant.partnerId === partnerId) throw err;
      throw new ConflictError(`Tenant ${request.tenantId} is already registered.`, { cause: err });
    }
    return present(this.#ports, await startWorkflow(this.#ports, "onboarding", stored));
  }

  /** The consent callback's three legs (functions/domain/consent-flow.ts). */
  async consentCallback(answer: ConsentAnswer): Promise<ConsentOutcome> {
    return consentCallback(answer, {
      links: this.#ports.links,
      now: this.#ports.clock(),
      partnerName: async (partnerId) => (await this.#ports.store.getPartner(partnerId))?.name,
      bind: (partnerId, tenantId, admin) => this.bind(partnerId, tenantId, "consent", admin),
      waitingForPermissions: async (partnerId, tenantId) =>
        (await waitingForPermissions(this.#ports, partnerId, tenantId)) !== undefined,
      setUpPermissions: (partnerId, tenantId, admin) => this.#setUpPermissions(partnerId, tenantId, admin),
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
    const { store, claims } = this.#ports;
    if (!claims) return { kind: "link-not-valid" };
    const current = await store.getTenant(tenantId, { groups: false });
    const claim = await claims.getClaim(tenantId, partnerId);
    const open =
      claim &&
      !claim.former &&
      claim.tenant.status === "awaiting_consent" &&
      !claimExpired(claim, this.#ports.clock());
    if (current && current.tenant.partnerId === partnerId && current.tenant.status !== "offboarded") {
      // Bound already: a consent given again (or given at last in Entra) resumes a waiting tenant,
      // or one left `queued` by a consent whose request ended before its run started (the retry
      // refuses, 409, while the run is running).
      if (claim) await claims.deleteClaim(tenantId, partnerId);
      if (current.tenant.status === "awaiting_consent" || current.tenant.status === "queued") {
        await this.#ports.resume.retry({ role: "ops" }, tenantId).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      }
      // Waiting for permissions, and the admin's sign-in gave Exchange access: the setup, then a retry.
      if (admin && current.tenant.status === "awaiting_permissions") {
        return this.#setUpPermissions(partnerId, tenantId, admin);
      }
      return { kind: "already-bound", tenantId };
    }
    if (!open) return { kind: "link-not-valid" };
    if (!(await claims.reserveCustomerName(claim.request.customerName, tenantId, partnerId, this.#now()))) {
      await this.#failClaim(tenantId, partnerId, CUSTOMER_NAME_TAKEN);
      return { kind: "link-not-valid" };
    }

    const register = (record: typeof current) =>
      registerBound(
        { store, claims, now: () => this.#now() },
        record,
        partnerId,
        claim.request,
        // Created when the partner asked (the claim), not when the customer consented.
        claim.tenant.createdAt,
      );
    let stored = await register(current);
    // The previous owner's record changed while it was moved (its run's last write, a drift
    // check's start): read it again and move what is there now, a few times at most.
    for (let tries = 1; stored === "changed" && tries < 3; tries++) {
      stored = await register(await store.getTenant(tenantId, { groups: false }));
    }
    if (stored === "changed") return { kind: "link-not-valid" };
    if (stored === "lost") {
      // Another consent bound it a moment earlier: this claim lost.
      await this.#failClaim(tenantId, partnerId);
      return { kind: "link-not-valid" };
    }
    if (by === "ops") {
      // Recorded in the tenant's history (not a webhook): a binding no customer consented to.
      ({ stored } = await store.transition(
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
        await this.#failClaim(tenantId, other.tenant.partnerId);
      }
    }
    // The admin's least-privilege setup (their sign-in's Exchange access), before the run starts.
    const { links, changeLog } = this.#ports;
    const { setup } = await setUpBeforeRun(admin, stored, {
      store,
      now: () => this.#now(),
      ...(links && { links }),
      ...(changeLog && { changeLog }),
    });
    await startWorkflow(this.#ports, "onboarding", stored).catch((err: unknown) => {
      // The tenant is bound and failed (retryable): the partner sees it.
      if (!(err instanceof WorkflowStartError)) throw err;
    });
    return { kind: "bound", tenantId, ...(setup && { setup }) };
  }

  async #failClaim(
    tenantId: string,
    partnerId: string,
    error: ErrorInfo = TENANT_BOUND_ELSEWHERE,
  ): Promise<void> {
    await this.#ports
      .claims!.updateClaim(
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

  #setUpPermissions(partnerId: string, tenantId: string, admin?: AdminExchangeAccess) {
    return setUpPermissions({ ...this.#ports, now: () => this.#now() }, partnerId, tenantId, admin);
  }

  #now(): string {
    return this.#ports.clock().toISOString();
  }
}
