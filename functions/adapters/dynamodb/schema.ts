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

/** Global secondary indexes: name -> [partition key, sort key]. All string keys, projection ALL. */
export const TABLE_INDEXES = {
  /** A partner's tenants, newest first. */
  byPartner: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  /** Every tenant (ops), newest first. */
  all: { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
} as const;

export const DEFAULT_TABLE_NAME = "journal-onboarding";
