/**
 * Key values of every item the store writes (single-table design, see README.md). Partition
 * values start with the entity kind, so other features can share the table and its indexes
 * without colliding.
 */

/** Tenant summary: one item per Entra tenant id. */
export const tenantKey = (tenantId: string) => ({ pk: `TENANT#${tenantId}`, sk: "TENANT" });

/** Zero-padded so that the sort key orders events by sequence. */
export const eventSortKey = (sequence: number) => `EVENT#${String(sequence).padStart(10, "0")}`;
export const EVENT_SK_PREFIX = "EVENT#";
export const EVENT_SK_MAX = "EVENT#9999999999";

/** Group specifications too large for the tenant item, split into parts per registration. */
export const groupsPartSortKey = (registrationId: string, part: number) =>
  `GROUPS#${registrationId}#${String(part).padStart(3, "0")}`;
export const GROUPS_SK_PREFIX = "GROUPS#";

/** A membership this service added to an adopted group (see memberships.ts), under its tenant. */
export const memberSortKey = (membership: string) => `MEMBER#${membership}`;
export const MEMBER_SK_PREFIX = "MEMBER#";

export const partnerKey = (partnerId: string) => ({ pk: `PARTNER#${partnerId}`, sk: "PARTNER" });
export const apiKeyKey = (keyHash: string) => ({ pk: `APIKEY#${keyHash}`, sk: "APIKEY" });
/** A partner's key as listed under the partner (id, date and the hash to revoke it by). */
export const partnerApiKeyKey = (partnerId: string, keyId: string) => ({
  pk: `PARTNER#${partnerId}`,
  sk: `KEY#${keyId}`,
});
export const PARTNER_API_KEY_SK_PREFIX = "KEY#";

/** gsi1: a partner's tenants. */
export const partnerTenantsPk = (partnerId: string) => `TENANTS#${partnerId}`;
/** gsi2: every tenant (ops). */
export const ALL_TENANTS_PK = "TENANTS";
/** gsi2: every partner (ops). */
export const ALL_PARTNERS_PK = "PARTNERS";

/** Newest first under `ScanIndexForward: false`; ties ordered by id. ISO timestamps contain no `#`. */
export const newestFirstSortKey = (createdAt: string, id: string) => `${createdAt}#${id}`;

export function idFromNewestFirstSortKey(sortKey: string): string {
  return sortKey.slice(sortKey.indexOf("#") + 1);
}
