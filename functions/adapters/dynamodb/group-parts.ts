/**
 * Group specifications too large for the tenant item (up to 2 x 10,000 members): part items
 * `TENANT#<tenantId>` / `GROUPS#<registrationId or changeId>#<part>`, 300 KB each, written
 * before the tenant item names them. Parts no longer named by the tenant item are never read
 * and deleted best effort.
 */
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { GROUPS_SK_PREFIX, groupsPartSortKey, tenantKey } from "./keys.ts";
import { batchDelete, queryAll, type TableContext } from "./query.ts";
import type { TenantItem } from "./tenant-item.ts";

/** Group specs up to this size live in the tenant item; larger ones (up to 2 x 10,000 members) in parts. */
const INLINE_GROUPS_MAX_BYTES = 32 * 1024;
const GROUPS_PART_BYTES = 300 * 1024;

export class GroupParts {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  /** Writes the parts named `partsId` when the groups are too large for the item; returns how many (0: inline). */
  async putIfLarge(
    tenantId: string,
    partsId: string,
    groups: TenantItem["groups"] | undefined,
    now: string,
  ): Promise<number> {
    const json = groups ? JSON.stringify(groups) : undefined;
    if (!json || Buffer.byteLength(json) <= INLINE_GROUPS_MAX_BYTES) return 0;
    const bytes = Buffer.from(json);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += GROUPS_PART_BYTES)
      parts.push(bytes.subarray(i, i + GROUPS_PART_BYTES));
    const { pk } = tenantKey(tenantId);
    await Promise.all(
      parts.map((data, part) =>
        this.#ctx.client.send(
          new PutCommand({
            TableName: this.#ctx.table,
            Item: { pk, sk: groupsPartSortKey(partsId, part), kind: "groupsPart", createdAt: now, data },
          }),
        ),
      ),
    );
    return parts.length;
  }

  /** The tenant's groups: inline, or joined from the parts the item names. */
  async groupsOf(item: TenantItem): Promise<TenantItem["groups"]> {
    if (!item.groupsParts) return item.groups;
    const { pk } = tenantKey(item.tenantId);
    const items = await queryAll(this.#ctx.client, {
      TableName: this.#ctx.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: {
        ":pk": pk,
        ":prefix": groupsPartSortKey(item.groupsPartsId ?? item.registrationId, 0).slice(0, -3),
      },
      ConsistentRead: true,
    });
    const parts = items.map((part) => part["data"] as Uint8Array);
    if (parts.length !== item.groupsParts)
      throw new Error(`groups of tenant ${item.tenantId} are incomplete`);
    return JSON.parse(Buffer.concat(parts).toString("utf8"));
  }

  async delete(tenantId: string, partsId: string, count: number): Promise<void> {
    const { pk } = tenantKey(tenantId);
    await batchDelete(
      this.#ctx,
      Array.from({ length: count }, (_, i) => ({ pk, sk: groupsPartSortKey(partsId, i) })),
    );
  }

  /** Parts of earlier registrations of this tenant id (or of a registration that lost a race). */
  async deleteStale(tenantId: string, registrationId: string): Promise<void> {
    const { pk } = tenantKey(tenantId);
    const result = await this.#ctx.client.send(
      new QueryCommand({
        TableName: this.#ctx.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": pk, ":prefix": GROUPS_SK_PREFIX },
        ProjectionExpression: "pk, sk",
      }),
    );
    const stale = (result.Items ?? []).filter(
      (i) => !(i["sk"] as string).startsWith(`${GROUPS_SK_PREFIX}${registrationId}#`),
    );
    await batchDelete(this.#ctx, stale as { pk: string; sk: string }[]);
  }
}
