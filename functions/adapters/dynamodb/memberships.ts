/**
 * Memberships this service added to groups it adopted (`own`/`disown` of `members`): one small
 * item each, `TENANT#<tenantId>` / `MEMBER#<membership>`, so that no item grows with the number
 * of members (an adopted group of 10,000 means up to 10,000 items of ~150 bytes, never one big
 * one). Written in batches of 25 after the tenant write that fences the change (run, attempt),
 * and before the memberships are made; read only by offboarding, never with the tenant.
 */
import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { StateLimitError } from "../../domain/errors.ts";
import { MEMBER_SK_PREFIX, memberSortKey, tenantKey } from "./keys.ts";
import { batchDelete, batchPut, isConditionFailure, type TableContext } from "./query.ts";
import type { TenantItem } from "./tenant-item.ts";

/** A membership is `["group","member id"]` as JSON: Exchange names are at most 256 characters. */
const MAX_MEMBERSHIP_CHARS = 600;

export class Memberships {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  async own(tenantId: string, values: readonly string[], now: string): Promise<void> {
    const { pk } = tenantKey(tenantId);
    for (const value of values) {
      if (value.length > MAX_MEMBERSHIP_CHARS)
        throw new StateLimitError(`A membership record of ${value.length} characters is too long to store.`);
    }
    await batchPut(
      this.#ctx,
      [...new Set(values)].map((value) => ({
        pk,
        sk: memberSortKey(value),
        kind: "membership",
        value,
        createdAt: now,
      })),
    );
  }

  async disown(tenantId: string, values: readonly string[]): Promise<void> {
    const { pk } = tenantKey(tenantId);
    await batchDelete(
      this.#ctx,
      [...new Set(values)].map((value) => ({ pk, sk: memberSortKey(value) })),
    );
  }

  /**
   * Up to `limit` owned memberships. A tenant item of an earlier version may still hold them in
   * its `ownedMembers` set: they are moved to items first (then the set is removed).
   */
  async list(item: TenantItem, limit: number): Promise<string[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be >= 1");
    if (item.ownedMembers?.size) await this.#migrate(item);
    const values: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#ctx.client.send(
        new QueryCommand({
          TableName: this.#ctx.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: { ":pk": tenantKey(item.tenantId).pk, ":prefix": MEMBER_SK_PREFIX },
          ProjectionExpression: "#v",
          ExpressionAttributeNames: { "#v": "value" },
          ConsistentRead: true,
          Limit: limit - values.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const i of result.Items ?? []) values.push(i["value"] as string);
      startKey = result.LastEvaluatedKey;
    } while (startKey && values.length < limit);
    return values;
  }

  async #migrate(item: TenantItem): Promise<void> {
    await this.own(item.tenantId, [...(item.ownedMembers ?? [])], item.updatedAt);
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: tenantKey(item.tenantId),
          UpdateExpression: "REMOVE ownedMembers",
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
