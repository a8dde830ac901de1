/**
 * The caller's record of a tenant, shared by the tenant use cases (reads, retry, correct,
 * offboard): the bound tenant, or (partners, with binding by consent) the partner's own claim,
 * scoped to the calling principal; and how a record is shown.
 *
 * Visibility rule: a partner sees only its own tenants; another partner's tenant is a
 * `TenantNotFoundError`, indistinguishable from a tenant that does not exist.
 */
import { type ClaimStore, type ConsentLinks, partnerConsentUrl, type StoredClaim } from "./binding.ts";
import { ConflictError, TenantNotFoundError } from "./errors.ts";
import { permissionsLinkUrl } from "./permissions-link.ts";
import type { Principal, StoredTenant, TenantStore } from "./store.ts";
import type { Tenant, TenantStatus } from "./tenant.ts";

/** A partner's record of a tenant: the bound tenant, or its claim (not bound to it). */
export type Visible = { kind: "tenant"; stored: StoredTenant } | { kind: "claim"; claim: StoredClaim };

/** What finding a record needs: one read of the tenant, and of the claims with binding. */
export interface RecordPorts {
  store: Pick<TenantStore, "getTenant">;
  /** Absent without binding by consent (the API's unit tests only). */
  claims?: Pick<ClaimStore, "getClaim" | "listClaims"> | undefined;
}

/** What showing a record needs: the consent links (with binding) and the time. */
export interface PresentPorts {
  links?: ConsentLinks | undefined;
  clock: () => Date;
}

/**
 * The caller's record of the tenant. For a partner, both reads are made whatever their outcome
 * (the tenant item stops at its owner check), so "not yours" costs what "does not exist" costs.
 * Without `groups` unless asked: the API never shows them, and large ones are stored apart.
 */
export async function resolveRecord(
  ports: RecordPorts,
  principal: Principal,
  tenantId: string,
  options: { groups?: boolean } = {},
): Promise<Visible> {
  const { store, claims } = ports;
  const groups = options.groups === true;
  if (!claims) {
    // The owner check comes first, before anything else of the tenant is read.
    const stored = await store.getTenant(tenantId, {
      groups,
      ...(principal.role === "ops" ? {} : { partnerId: ownPartnerId(principal) }),
    });
    if (!stored) throw notFound(tenantId);
    return { kind: "tenant", stored };
  }
  if (principal.role === "ops") {
    const stored = await store.getTenant(tenantId, { groups });
    if (stored) return { kind: "tenant", stored };
    const all = await claims.listClaims(tenantId);
    const newest = all.sort((a, b) => b.tenant.updatedAt.localeCompare(a.tenant.updatedAt))[0];
    if (newest) return { kind: "claim", claim: newest };
    throw notFound(tenantId);
  }
  const partnerId = ownPartnerId(principal);
  const [stored, claim] = await Promise.all([
    store.getTenant(tenantId, { partnerId, groups }),
    claims.getClaim(tenantId, partnerId),
  ]);
  if (stored) return { kind: "tenant", stored };
  if (claim) return { kind: "claim", claim };
  throw notFound(tenantId);
}

/**
 * A tenant waiting for consent shows the consent URL issued to its partner (fresh signed state);
 * one waiting for permissions, its partner's link to the least-privilege setup by the admin's
 * sign-in (permissions-link.ts), when the service has that sign-in.
 */
export function present(ports: PresentPorts, tenant: Tenant): Tenant {
  const { links } = ports;
  if (links && tenant.status === "awaiting_permissions") {
    const consentUrl = permissionsLinkUrl(links, tenant, ports.clock());
    return consentUrl ? { ...tenant, consentUrl } : tenant;
  }
  if (!links || tenant.status !== "awaiting_consent") return tenant;
  const consentUrl = partnerConsentUrl(
    links,
    { partnerId: tenant.partnerId, tenantId: tenant.tenantId },
    ports.clock(),
  );
  return { ...tenant, consentUrl };
}

/** ConflictError unless the tenant is in one of `allowed`. */
export function requireStatus(tenant: Tenant, allowed: readonly TenantStatus[], verb: string): void {
  if (!allowed.includes(tenant.status)) {
    throw new ConflictError(
      `Tenant ${tenant.tenantId} is ${tenant.status}; it can be ${verb} only when ${allowed.join(", ")}.`,
    );
  }
}

/** Who asked, as the audit trail records it. */
export function requesterOf(principal: Principal): "partner" | "ops" {
  return principal.role === "ops" ? "ops" : "partner";
}

export function ownPartnerId(principal: Principal): string {
  // A partner principal without a partnerId would see everything: refuse loudly instead.
  if (!principal.partnerId) throw new Error("partner principal without partnerId");
  return principal.partnerId;
}

function notFound(tenantId: string): TenantNotFoundError {
  return new TenantNotFoundError(`Tenant ${tenantId} was not found.`);
}
