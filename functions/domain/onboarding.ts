/**
 * The application service behind the partner API's tenant routes: one object over the tenant
 * use cases, each in its own module with only the ports it needs:
 * - `registration.ts`: register, bind (by consent or by ops), the consent callback;
 * - `tenant-lifecycle.ts`: retry, correct (`PATCH`), offboard;
 * - `tenant-queries.ts`: get, list, events.
 * Partners and their keys are `partners.ts`. Domain logic only: the store and the workflow
 * engine are ports, HTTP lives in `functions/api/`.
 */
import type { ClaimStore, ConsentLinks } from "./binding.ts";
import type { ChangeLogStore } from "./change-log.ts";
import type { ConsentAnswer, ConsentOutcome } from "./consent-flow.ts";
import type { WorkflowEngine } from "./engine.ts";
import type { AdminExchangeAccess } from "./least-privilege-consent.ts";
import type { Page } from "./page.ts";
import { Registration } from "./registration.ts";
import type { Principal, TenantStore } from "./store.ts";
import type { OnboardingRequest, Tenant, TenantCorrection, TenantEvent } from "./tenant.ts";
import { TenantLifecycle } from "./tenant-lifecycle.ts";
import { type TenantListQuery, TenantQueries } from "./tenant-queries.ts";

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

/**
 * Tenant onboarding use cases, wired together.
 *
 * @example
 * ```ts
 * const onboarding = new OnboardingService({ store, engine });
 * const tenant = await onboarding.register("partner-1", request); // status "queued", workflow started
 * ```
 */
export class OnboardingService {
  readonly #registration: Registration;
  readonly #lifecycle: TenantLifecycle;
  readonly #queries: TenantQueries;

  constructor(options: OnboardingServiceOptions) {
    const { store, engine, binding } = options;
    const shared = {
      store,
      clock: options.clock ?? (() => new Date()),
      claims: binding?.claims,
      links: binding?.links,
    };
    this.#queries = new TenantQueries(shared);
    this.#lifecycle = new TenantLifecycle({
      ...shared,
      engine,
      strandedConfirmMs: options.strandedConfirmMs ?? 3000,
    });
    this.#registration = new Registration({
      ...shared,
      engine,
      changeLog: binding?.changeLog,
      resume: this.#lifecycle,
    });
  }

  register(partnerId: string, request: OnboardingRequest): Promise<Tenant> {
    return this.#registration.register(partnerId, request);
  }

  consentCallback(answer: ConsentAnswer): Promise<ConsentOutcome> {
    return this.#registration.consentCallback(answer);
  }

  bind(
    partnerId: string,
    tenantId: string,
    by: "consent" | "ops",
    admin?: AdminExchangeAccess,
  ): Promise<ConsentOutcome> {
    return this.#registration.bind(partnerId, tenantId, by, admin);
  }

  retry(principal: Principal, tenantId: string): Promise<Tenant> {
    return this.#lifecycle.retry(principal, tenantId);
  }

  correct(principal: Principal, tenantId: string, correction: TenantCorrection): Promise<Tenant> {
    return this.#lifecycle.correct(principal, tenantId, correction);
  }

  offboard(principal: Principal, tenantId: string): Promise<Tenant> {
    return this.#lifecycle.offboard(principal, tenantId);
  }

  getTenant(principal: Principal, tenantId: string): Promise<Tenant> {
    return this.#queries.getTenant(principal, tenantId);
  }

  listTenants(principal: Principal, query: TenantListQuery): Promise<Page<Tenant>> {
    return this.#queries.listTenants(principal, query);
  }

  listEvents(
    principal: Principal,
    tenantId: string,
    query: { limit: number; cursor?: string },
  ): Promise<Page<TenantEvent>> {
    return this.#queries.listEvents(principal, tenantId, query);
  }
}
