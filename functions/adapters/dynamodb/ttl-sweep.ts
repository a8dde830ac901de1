/**
 * What DynamoDB's TTL does in AWS, for engines without it (dynalite, and DynamoDB Local, which
 * never deletes expired items): deletes every item whose `expiresAt` (epoch seconds) has
 * passed. Each delete is conditional on the item still being expired, so an item given a new
 * life meanwhile (a tenant registered again) stays. The local runtime runs it periodically.
 */
import { DeleteCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";

/** Returns how many items were deleted. */
export async function sweepExpired({ client, table }: TableContext, nowMs = Date.now()): Promise<number> {
  const now = Math.floor(nowMs / 1000);
  const names = { "#ttl": TABLE_KEYS.ttl };
  let deleted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "#ttl < :now",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ":now": now },
        ProjectionExpression: "pk, sk",
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    for (const key of page.Items ?? []) {
      try {
        await client.send(
          new DeleteCommand({
            TableName: table,
            Key: { pk: key["pk"], sk: key["sk"] },
            ConditionExpression: "#ttl < :now",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":now": now },
          }),
        );
        deleted++;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return deleted;
}
