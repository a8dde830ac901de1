/**
 * The one table's key schema, shared by the CDK stack, the local runtime (which creates the
 * table when missing) and the store adapter. The access patterns are documented in
 * `functions/adapters/dynamodb/README.md`.
 */
export const TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
  /** TTL attribute (epoch seconds): idempotency records and old delivery attempts expire. */
  ttl: "expiresAt",
} as const;

/**
 * Global secondary indexes: name -> [partition key, sort key], string keys. Both are sharded
 * (no constant partition value: see keys.ts) and project only the keys and `status` (the
 * status filter of the lists): a change to anything else writes nothing to them, and a list
 * reads the page's items from the table by key. (They replace `gsi1`/`gsi2`, which used a
 * constant partition value per list and projected every attribute.)
 */
export const TABLE_INDEXES = {
  /** A partner's tenants and webhook deliveries, newest first, in a few shards per partner. */
  byPartner: { name: "gsi3", partitionKey: "gsi3pk", sortKey: "gsi3sk" },
  /** Every tenant, partner and delivery (ops), newest first, in shards. */
  all: { name: "gsi4", partitionKey: "gsi4pk", sortKey: "gsi4sk" },
  /**
   * The drift schedule (sparse: `succeeded` tenants only): `DRIFT#<phase>`, sorted by the tick
   * each was last claimed for (drift-due.ts).
   */
  driftDue: { name: "gsi5", partitionKey: "gsi5pk", sortKey: "gsi5sk" },
} as const;

/** What both indexes project besides the table's and their own keys. */
export const INDEX_PROJECTED_ATTRIBUTES = ["status"] as const;

export const DEFAULT_TABLE_NAME = "journal-onboarding";
