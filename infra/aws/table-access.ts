/**
 * Least privilege on the one table: each function may touch only the item types it uses,
 * by `dynamodb:LeadingKeys` on partition key values (item kinds start their partition key with
 * their own prefix, see functions/adapters/dynamodb/README.md), and may query only the indexes
 * it reads, with LeadingKeys on the index's partition key values.
 *
 * A new item type (or a function reading one more) is one line here; the infra test prints this
 * table and checks the synthesised policies against it.
 */
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { TABLE_INDEXES } from "../../functions/adapters/dynamodb/schema.ts";
import type { LambdaFunction } from "./lambda-function.ts";

export interface TableItemAccess {
  /** LeadingKeys patterns of the table's partition key (`TENANT#*`). */
  readonly items: readonly string[];
  /** Only `GetItem` (the authorizer). @default false: read and write */
  readonly getOnly?: boolean;
  /** Index name -> LeadingKeys patterns of the index's partition key it queries. */
  readonly indexes?: Readonly<Record<string, readonly string[]>>;
}

const byPartner = TABLE_INDEXES.byPartner.name;
const all = TABLE_INDEXES.all.name;
const driftDue = TABLE_INDEXES.driftDue.name;

/** Which items each function reaches (read the code: stores, keys.ts, webhook-*.ts, idempotency.ts). */
export const TABLE_ACCESS = {
  /** API key lookups: `GetItem APIKEY#<hash>`, nothing else. */
  authorizer: { items: ["APIKEY#*"], getOnly: true },
  /** The REST API: every kind its routes serve, and the lists by index. */
  api: {
    items: [
      "TENANT#*", // tenants, their events and group parts
      "PARTNER#*", // partners and the keys listed under them
      "APIKEY#*", // key lookups and revocation
      "IDEMPOTENCY#*", // Idempotency-Key records
      "WEBHOOK#*", // the partner's endpoint (secret encrypted)
      "WEBHOOK_DELIVERIES#*", // delivery log, replay
      "CUSTOMER#*", // customerName reservations (one partner's bound tenants per slug)
      "SIGNIN#*", // consent sign-in states (single use, bound to a browser)
    ],
    indexes: {
      [byPartner]: ["TENANTS#*", "WEBHOOK_DELIVERIES#*"], // a partner's tenants, deliveries (shards)
      [all]: ["TENANTS#ALL#*", "PARTNERS", "WEBHOOK_DELIVERIES#ALL#*"], // everyone's (ops, shards)
    },
  },
  /**
   * The workflow task function (every task of both workflows): the union of the tasks' access,
   * which is the same for each: their tenant's item, events and group parts, and the tenant's
   * Exchange lease (one container at a time sends a tenant's Exchange requests).
   */
  task: { items: ["TENANT#*", "EXCHANGE_LEASE#*"] },
  /** Records an execution that ended without its outcome on the tenant. */
  watchdog: { items: ["TENANT#*"] },
  /** Writes out tenants' outboxes (event items). */
  streamForwarder: { items: ["TENANT#*"] },
  /**
   * The drift schedule: the tick's tenants (drift index), each claimed on its item; its marker
   * and the listing of succeeded tenants (ops index) enrol tenants from before the drift index.
   */
  driftFanOut: {
    items: ["TENANT#*", "SCHEDULE#*"],
    indexes: { [all]: ["TENANTS#ALL#*"], [driftDue]: ["DRIFT#*"] },
  },
  /**
   * The stranded-run sweep: in-flight tenants (their entries in the drift index), each claimed and
   * possibly recorded failed on its item, with its event; its marker and the listing of in-flight
   * tenants (ops index) enrol tenants from before those entries.
   */
  strandedSweep: {
    items: ["TENANT#*", "SCHEDULE#*"],
    indexes: { [all]: ["TENANTS#ALL#*"], [driftDue]: ["INFLIGHT#*"] },
  },
  /** Endpoints (to sign and send) and their breakers (`WEBHOOK#<partnerId>`), deliveries (to record attempts). */
  dispatcher: { items: ["WEBHOOK#*", "WEBHOOK_DELIVERIES#*"] },
} as const satisfies Record<string, TableItemAccess>;

const READ_WRITE = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:ConditionCheckItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
];

const leadingKeys = (patterns: readonly string[]) => ({
  "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [...patterns] },
});

/**
 * Sets `TABLE_NAME` and grants the function exactly `access` on the table (no Scan: LeadingKeys
 * cannot restrict it), plus use of the table's customer-managed key if it has one.
 */
export function grantTableItems(fn: LambdaFunction, table: ITable, access: TableItemAccess): void {
  fn.addEnvironment("TABLE_NAME", table.tableName);
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: access.getOnly ? ["dynamodb:GetItem"] : READ_WRITE,
      resources: [table.tableArn],
      conditions: leadingKeys(access.items),
    }),
  );
  for (const [index, patterns] of Object.entries(access.indexes ?? {})) {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${table.tableArn}/index/${index}`],
        conditions: leadingKeys(patterns),
      }),
    );
  }
  if (access.getOnly) table.encryptionKey?.grantDecrypt(fn);
  else table.encryptionKey?.grantEncryptDecrypt(fn);
}
