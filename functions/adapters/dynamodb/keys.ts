/**
 * Key values of every item the store writes (single-table design, see README.md). Partition
 * values start with the entity kind, so other features can share the table and its indexes
 * without colliding.
 */
import { createHash } from "node:crypto";
import { TABLE_INDEXES } from "./schema.ts";

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
/** A consent sign-in state's record, by its nonce (single use, see sign-in-states.ts). */
export const signInStateKey = (nonce: string) => ({ pk: `SIGNIN#${nonce}`, sk: "SIGNIN" });
/**
 * A tenant's Exchange lease (tenant-lease-store.ts): its own partition per tenant, apart from the
 * tenant's items, so that the table stream's filters (tenant and event items) never see it.
 */
export const exchangeLeaseKey = (tenantId: string) => ({
  pk: `EXCHANGE_LEASE#${tenantId.toLowerCase()}`,
  sk: "LEASE",
});

/**
 * Index partition values are sharded: a list's items spread over a fixed number of partitions,
 * chosen by a hash of the item's id, so that no index partition takes every write of a list
 * (DynamoDB's limit is 1,000 write units per second per partition). A list queries each shard
 * and merges them newest first (newest-first.ts).
 */
export const PARTNER_LIST_SHARDS = 4;
export const OPS_LIST_SHARDS = 16;

/** The shard of an id: the first 4 bytes of its SHA-256, modulo the shard count. */
export function shardOf(id: string, shards: number): number {
  return createHash("sha256").update(id).digest().readUInt32BE(0) % shards;
}
const shard = (n: number) => String(n).padStart(2, "0");

/** byPartner index: a partner's tenants, one shard. */
export const partnerTenantsPk = (partnerId: string, n: number) => `TENANTS#${partnerId}#${shard(n)}`;
/** all index: every tenant (ops), one shard. */
export const allTenantsPk = (n: number) => `TENANTS#ALL#${shard(n)}`;
/** all index: every partner (ops); one partition: a partner's index entry is written once, at creation. */
export const ALL_PARTNERS_PK = "PARTNERS";
/** byPartner index: a partner's webhook deliveries, one shard. */
export const partnerDeliveriesPk = (partnerId: string, n: number) =>
  `WEBHOOK_DELIVERIES#${partnerId}#${shard(n)}`;
/** all index: every webhook delivery (ops), one shard. */
export const allDeliveriesPk = (n: number) => `WEBHOOK_DELIVERIES#ALL#${shard(n)}`;

/** A partner's webhook endpoint. */
export const endpointKey = (partnerId: string) => ({ pk: `WEBHOOK#${partnerId}`, sk: "ENDPOINT" });
/** The partition of a tenant's webhook deliveries, dispatch cursor and dispatch order. */
export const deliveriesPk = (tenantId: string) => `WEBHOOK_DELIVERIES#${tenantId}`;
/** Zero-padded so that the sort key orders a tenant's deliveries by sequence. */
export const deliverySortKey = (sequence: number) => `DELIVERY#${String(sequence).padStart(10, "0")}`;
export const DELIVERY_SK_PREFIX = "DELIVERY#";
export const deliveryKey = (tenantId: string, sequence: number) => ({
  pk: deliveriesPk(tenantId),
  sk: deliverySortKey(sequence),
});
/** The local dispatcher's cursor of a tenant (webhook-dispatch-cursor.ts). */
export const dispatchCursorKey = (tenantId: string) => ({ pk: deliveriesPk(tenantId), sk: "CURSOR" });

/** Every shard's partition value of a list. */
export const shards = (count: number, pk: (n: number) => string) =>
  Array.from({ length: count }, (_, n) => pk(n));

/** Newest first under `ScanIndexForward: false`; ties ordered by id. ISO timestamps contain no `#`. */
export const newestFirstSortKey = (createdAt: string, id: string) => `${createdAt}#${id}`;

/** The shape of a `newestFirstSortKey` taken back from a cursor. */
export const isNewestFirstPosition = (position: string) => /^[^#]{1,64}#[^#]{1,128}$/.test(position);

/** The byPartner and all index keys of an item listed at `position` in both lists. */
function listKeysAt(partnerPk: string, allPk: string, position: string): Record<string, string> {
  const { byPartner, all } = TABLE_INDEXES;
  return {
    [byPartner.partitionKey]: partnerPk,
    [byPartner.sortKey]: position,
    [all.partitionKey]: allPk,
    [all.sortKey]: position,
  };
}

/**
 * The index keys that list an item among a partner's tenants and among every tenant (ops):
 * tenant records and claims, sharded by tenantId, at `position` (a `newestFirstSortKey`).
 */
export const tenantListKeys = (partnerId: string, tenantId: string, position: string) =>
  listKeysAt(
    partnerTenantsPk(partnerId, shardOf(tenantId, PARTNER_LIST_SHARDS)),
    allTenantsPk(shardOf(tenantId, OPS_LIST_SHARDS)),
    position,
  );

/**
 * The index keys that list a webhook delivery among its partner's deliveries and among every
 * delivery (ops), sharded by delivery id, at `position` (createdAt#tenantId#sequence).
 */
export const deliveryListKeys = (partnerId: string, deliveryId: string, position: string) =>
  listKeysAt(
    partnerDeliveriesPk(partnerId, shardOf(deliveryId, PARTNER_LIST_SHARDS)),
    allDeliveriesPk(shardOf(deliveryId, OPS_LIST_SHARDS)),
    position,
  );
