/** What several route groups share: the tenant resource as the API shows it, and the caller's partner. */

import type { Principal } from "../../domain/store.ts";
import type { Tenant } from "../../domain/tenant.ts";

/** The tenant resource of the API (no `groups`, no internals). */
export function toTenantResource(t: Tenant) {
  return {
    tenantId: t.tenantId,
    partnerId: t.partnerId,
    customerName: t.customerName,
    region: t.region,
    outboundGateway: t.outboundGateway,
    ndrAddress: t.ndrAddress,
    status: t.status,
    steps: t.steps.map((s) => ({
      name: s.name,
      status: s.status,
      attempts: s.attempts,
      ...(s.startedAt !== undefined && { startedAt: s.startedAt }),
      ...(s.finishedAt !== undefined && { finishedAt: s.finishedAt }),
      ...(s.error !== undefined && { error: s.error }),
      ...(s.progress !== undefined && { progress: s.progress }),
      ...(s.waitingUntil !== undefined && { waitingUntil: s.waitingUntil }),
    })),
    ...(t.consentUrl !== undefined && t.consentUrl !== null && { consentUrl: t.consentUrl }),
    ...(t.missingPermissions !== undefined &&
      t.missingPermissions !== null && {
        missingPermissions: t.missingPermissions.map((m) => ({ cmdlet: m.cmdlet, role: m.role })),
      }),
    ...(t.ndrAddressKept === true && { ndrAddressKept: true }),
    ...(t.onDrift !== undefined && { onDrift: t.onDrift }),
    ...(t.approval !== undefined && { approval: t.approval }),
    ...(t.plan !== undefined && { plan: t.plan }),
    ...(t.drift !== undefined && { drift: t.drift }),
    ...(t.error !== undefined && t.error !== null && { error: t.error }),
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

export function tenantLocation(tenantId: string): Record<string, string> {
  return { location: `/v1/tenants/${tenantId}` };
}

export function partnerOf(principal: Principal): string {
  if (!principal.partnerId) throw new Error("partner route reached without a partnerId");
  return principal.partnerId;
}

export const PARTNER_OR_OPS = ["partner", "ops"] as const;
