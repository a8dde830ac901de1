/** Newest-first pages over an index (tenants and partners), with signed cursors. */
import { QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { TenantStatus } from "../../domain/tenant.ts";
import type { CursorCodec } from "./cursor.ts";
import type { TableContext } from "./query.ts";

export async function queryNewestFirst<T>(
  { client, table }: TableContext,
  cursors: CursorCodec,
  index: { name: string; partitionKey: string; sortKey: string },
  partition: string,
  scope: string,
  query: { status?: TenantStatus; limit: number; cursor?: string },
  baseKey: (position: string) => Record<string, string>,
): Promise<{ items: T[]; nextCursor?: string }> {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
  let startKey: Record<string, unknown> | undefined;
  if (query.cursor !== undefined) {
    const position = cursors.decode(scope, query.cursor, (p) => /^[^#]{1,64}#[^#]{1,128}$/.test(p));
    startKey = { ...baseKey(position), [index.partitionKey]: partition, [index.sortKey]: position };
  }
  const collected: Record<string, unknown>[] = [];
  // Fetch one more than asked to know whether a next page exists; a status filter is applied
  // after DynamoDB's Limit, so keep reading until the page is full.
  do {
    const input: QueryCommandInput = {
      TableName: table,
      IndexName: index.name,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": index.partitionKey },
      ExpressionAttributeValues: { ":pk": partition },
      ScanIndexForward: false,
      Limit: query.status ? 200 : limit + 1 - collected.length,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    };
    if (query.status) {
      input.FilterExpression = "#status = :status";
      input.ExpressionAttributeNames!["#status"] = "status";
      input.ExpressionAttributeValues![":status"] = query.status;
    }
    const result = await client.send(new QueryCommand(input));
    collected.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey && collected.length <= limit);
  if (collected.length <= limit) return { items: collected as T[] };
  const items = collected.slice(0, limit);
  const last = items[limit - 1]![index.sortKey] as string;
  return { items: items as T[], nextCursor: cursors.encode(scope, last) };
}
