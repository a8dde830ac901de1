/**
 * The tenants' Exchange leases (the `TenantLeaseStore` port): one small item per tenant,
 * `EXCHANGE_LEASE#<tenantId>` / `LEASE`, with `owner` and `expiresAtMs` while held and
 * `holdUntilMs` after a 429. Taking and renewing is one conditional UpdateItem (free, expired or
 * already ours); releasing is one UpdateItem that removes the owner if it is still ours. The item
 * expires (TTL) a day after its last lease.
 */
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { LeaseTake, TenantLeaseStore } from "../../domain/tenant-lease.ts";
import { exchangeLeaseKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";

const DAY_SECONDS = 86_400;
const NAMES = { "#owner": "owner", "#kind": "kind", "#ttl": TABLE_KEYS.ttl };

export class DynamoTenantLeaseStore implements TenantLeaseStore {
  readonly #ctx: TableContext;

  constructor(options: { client: TableContext["client"]; tableName: string }) {
    this.#ctx = { client: options.client, table: options.tableName };
  }

  async take(tenantId: string, owner: string, nowMs: number, expiresAtMs: number): Promise<LeaseTake> {
    try {
      const out = await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: exchangeLeaseKey(tenantId),
          UpdateExpression:
            "SET #owner = :owner, expiresAtMs = :expires, #kind = :kind, tenantId = :tenantId, #ttl = :ttl",
          ConditionExpression: "attribute_not_exists(#owner) OR #owner = :owner OR expiresAtMs < :now",
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: {
            ":owner": owner,
            ":expires": expiresAtMs,
            ":kind": "exchangeLease",
            ":tenantId": tenantId.toLowerCase(),
            ":ttl": Math.ceil(expiresAtMs / 1000) + DAY_SECONDS,
            ":now": nowMs,
          },
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      const holdUntilMs = out.Attributes?.["holdUntilMs"];
      return typeof holdUntilMs === "number" && holdUntilMs > nowMs
        ? { taken: true, holdUntilMs }
        : { taken: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // DynamoDB returns the item that failed the condition; an engine that does not is read.
      const item =
        (err as { Item?: Record<string, unknown> }).Item ?? (await this.#read(tenantId)) ?? undefined;
      const expires = item?.["expiresAtMs"];
      return { taken: false, expiresAtMs: typeof expires === "number" ? expires : nowMs };
    }
  }

  async release(tenantId: string, owner: string): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: exchangeLeaseKey(tenantId),
          UpdateExpression: "REMOVE #owner, expiresAtMs",
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async hold(tenantId: string, untilMs: number): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: exchangeLeaseKey(tenantId),
          UpdateExpression: "SET holdUntilMs = :until, #kind = :kind, tenantId = :tenantId, #ttl = :ttl",
          ConditionExpression: "attribute_not_exists(holdUntilMs) OR holdUntilMs < :until",
          ExpressionAttributeNames: { "#kind": "kind", "#ttl": TABLE_KEYS.ttl },
          ExpressionAttributeValues: {
            ":until": untilMs,
            ":kind": "exchangeLease",
            ":tenantId": tenantId.toLowerCase(),
            ":ttl": Math.ceil(untilMs / 1000) + DAY_SECONDS,
          },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async #read(tenantId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: exchangeLeaseKey(tenantId), ConsistentRead: true }),
    );
    return out.Item;
  }
}
