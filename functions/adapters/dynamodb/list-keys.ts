/**
 * Gives items written before the lists were sharded (index keys `gsi1pk`/`gsi2pk` with one
 * constant partition per list) their sharded index keys, so that they are listed again. Run once
 * after an upgrade: the local runtime does at start-up; in AWS, after the new indexes exist (see
 * docs/scale.md, "Upgrading"). Idempotent: an item that has its new keys is skipped.
 */
import { ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import {
  ALL_PARTNERS_PK,
  allDeliveriesPk,
  allTenantsPk,
  OPS_LIST_SHARDS,
  PARTNER_LIST_SHARDS,
  partnerDeliveriesPk,
  partnerTenantsPk,
  shardOf,
} from "./keys.ts";
import type { TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";
import { deliveryIdOf } from "./webhook-records.ts";

/** Returns how many items got their keys. */
export async function backfillListKeys({ client, table }: TableContext): Promise<number> {
  const { byPartner, all } = TABLE_INDEXES;
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "attribute_exists(gsi2sk) AND attribute_not_exists(#allSk)",
        ExpressionAttributeNames: { "#allSk": all.sortKey },
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    for (const item of page.Items ?? []) {
      const position = item["gsi2sk"] as string;
      const keys: Record<string, string> = { [all.sortKey]: position };
      if (item["kind"] === "tenant") {
        const tenantId = item["tenantId"] as string;
        keys[byPartner.partitionKey] = partnerTenantsPk(
          item["partnerId"] as string,
          shardOf(tenantId, PARTNER_LIST_SHARDS),
        );
        keys[byPartner.sortKey] = position;
        keys[all.partitionKey] = allTenantsPk(shardOf(tenantId, OPS_LIST_SHARDS));
      } else if (item["kind"] === "partner") {
        keys[all.partitionKey] = ALL_PARTNERS_PK;
      } else if (item["kind"] === "webhookDelivery") {
        const id = deliveryIdOf(item["tenantId"] as string, item["sequence"] as number);
        keys[byPartner.partitionKey] = partnerDeliveriesPk(
          item["partnerId"] as string,
          shardOf(id, PARTNER_LIST_SHARDS),
        );
        keys[byPartner.sortKey] = position;
        keys[all.partitionKey] = allDeliveriesPk(shardOf(id, OPS_LIST_SHARDS));
      } else continue;
      const names = Object.keys(keys);
      await client.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: item["pk"], sk: item["sk"] },
          UpdateExpression: `SET ${names.map((_, i) => `#k${i} = :k${i}`).join(", ")} REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk`,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#k${i}`, n])),
          ExpressionAttributeValues: Object.fromEntries(names.map((n, i) => [`:k${i}`, keys[n]])),
        }),
      );
      count++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}
