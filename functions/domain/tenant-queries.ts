/**
 * Reading tenants (`GET /v1/tenants`, `GET /v1/tenants/{id}`, `GET .../events`), scoped to the
 * calling principal: a partner sees only its own tenants and claims.
 */
import { type ClaimStore, claimView } from "./binding.ts";
import type { Page } from "./page.ts";
import type { Principal, TenantStore } from "./store.ts";
import type { Tenant, TenantEvent, TenantStatus } from "./tenant.ts";
import { ownPartnerId, type PresentPorts, present, resolveRecord } from "./tenant-records.ts";

export interface TenantListQuery {
  status?: TenantStatus;
  limit: number;
  cursor?: string;
  /** Ops only: one partner's tenants. For a partner it can only narrow to itself. */
  partnerId?: string;
}

/** What reading tenants needs: reads only, of tenants, their events and (with binding) claims. */
export interface TenantQueryPorts extends PresentPorts {
  store: Pick<TenantStore, "getTenant" | "listTenants" | "pageEvents">;
  claims?: Pick<ClaimStore, "getClaim" | "listClaims" | "pageClaimEvents"> | undefined;
}

/**
 * @example
 * ```ts
 * const queries = new TenantQueries({ store, clock: () => new Date() });
 * const tenant = await queries.getTenant({ role: "partner", partnerId: "p_1" }, tenantId);
 * ```
 */
export class TenantQueries {
  readonly #ports: TenantQueryPorts;

  constructor(ports: TenantQueryPorts) {
    this.#ports = ports;
  }

  /** The tenant, if the principal may see it; else TenantNotFoundError. */
  async getTenant(principal: Principal, tenantId: string): Promise<Tenant> {
    const visible = await resolveRecord(this.#ports, principal, tenantId);
    return present(
      this.#ports,
      visible.kind === "claim" ? claimView(visible.claim, this.#ports.clock()) : visible.stored.tenant,
    );
  }

  /** Newest first; partners get their own tenants only. */
  async listTenants(principal: Principal, query: TenantListQuery): Promise<Page<Tenant>> {
    let partnerId = query.partnerId;
    if (principal.role === "partner") {
      if (partnerId !== undefined && partnerId !== principal.partnerId) return { items: [] };
      partnerId = ownPartnerId(principal);
    }
    const page = await this.#ports.store.listTenants({
      limit: query.limit,
      ...(partnerId !== undefined && { partnerId }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    return { ...page, items: page.items.map((t) => present(this.#ports, t)) };
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
    const visible = await resolveRecord(this.#ports, principal, tenantId);
    if (visible.kind === "claim") return this.#ports.claims!.pageClaimEvents(visible.claim, query);
    return this.#ports.store.pageEvents(tenantId, query);
  }
}
