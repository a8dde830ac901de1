/**
 * Time to live, which DynamoDB Local does not apply: items whose TTL attribute (the table's
 * TimeToLiveSpecification) is a time in seconds at or before now are deleted by the service,
 * as DynamoDB does (in AWS within a few days of the time; here at each sweep, every
 * TTL_SWEEP_MINUTES, default 10). Each deletion is a REMOVE record on the table's stream, as
 * in AWS. `sweep(at)` deletes what would have expired by `at` (tests).
 */
import type { Assembly } from "../template.ts";
import type { DynamoDbLocal } from "./dynamodb.ts";

type Item = Record<string, Record<string, string>>;

export function startTtlSweeper(o: { db: DynamoDbLocal; assembly: Assembly; log: (line: string) => void }) {
  const tables = o.assembly.ofType("AWS::DynamoDB::Table").flatMap(([id, r]) => {
    const p = r.Properties as {
      TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
      KeySchema: { AttributeName: string }[];
    };
    const ttl = p.TimeToLiveSpecification;
    return ttl?.Enabled
      ? [
          {
            name: o.assembly.ref(id),
            attribute: ttl.AttributeName,
            keys: p.KeySchema.map((k) => k.AttributeName),
          },
        ]
      : [];
  });

  const sweep = async (at = new Date()): Promise<number> => {
    const now = String(Math.floor(at.getTime() / 1000));
    let deleted = 0;
    for (const table of tables) {
      let start: Item | undefined;
      do {
        const page: { Items: Item[]; LastEvaluatedKey?: Item } = await o.db.call("DynamoDB_20120810.Scan", {
          TableName: table.name,
          FilterExpression: "#t <= :now",
          ExpressionAttributeNames: { "#t": table.attribute },
          ExpressionAttributeValues: { ":now": { N: now } },
          ...(start ? { ExclusiveStartKey: start } : {}),
        });
        for (const item of page.Items) {
          const key = Object.fromEntries(table.keys.map((k) => [k, item[k]!]));
          try {
            await o.db.call("DynamoDB_20120810.DeleteItem", {
              TableName: table.name,
              Key: key,
              // Only if it is still expired (an update may have moved its time on).
              ConditionExpression: "#t <= :now",
              ExpressionAttributeNames: { "#t": table.attribute },
              ExpressionAttributeValues: { ":now": { N: now } },
            });
            deleted++;
          } catch (err) {
            if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
          }
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return deleted;
  };

  const minutes = Number(process.env["TTL_SWEEP_MINUTES"] ?? 10);
  const timer = setInterval(
    () => void sweep().catch((err: unknown) => o.log(`TTL sweep failed: ${String(err)}`)),
    (minutes > 0 ? minutes : 10) * 60_000,
  );
  timer.unref();
  return { sweep, close: async () => clearInterval(timer) };
}
