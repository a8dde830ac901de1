/**
 * Newest-first pages over a sharded index (tenants, partners, deliveries), with signed cursors.
 *
 * A list lives in several index partitions (shards). A page queries every shard in parallel for
 * the items older than the cursor's position (`sk < position`, descending, one more than the
 * page), merges them by sort key and keeps the newest `limit`: since sort keys are unique and
 * every item newer than the position was on an earlier page, the pages are exactly the list in
 * order, whatever the shard count. The index projects keys and `status` only, so the page's
 * items are then read from the table by key (one BatchGetItem).
 */
import { BatchGetCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { TenantStatus } from "../../domain/tenant.ts";
import type { CursorCodec } from "./cursor.ts";
import type { TableContext } from "./query.ts";

/** Index items read per Query when a filter applies (the filter comes after DynamoDB's Limit). */
const FILTERED_READ = 200;
const BATCH_GET_MAX = 100;

export interface ShardedList {
  index: { name: string; partitionKey: string; sortKey: string };
  /** The list's partition value in each shard. */
  partitions: readonly string[];
  /** What the cursor is bound to (the list and its filter). */
  scope: string;
  /** The strict shape of a position (an index sort key) taken from a cursor. */
  isPosition: (position: string) => boolean;
}

export async function queryNewestFirst<T>(
  ctx: TableContext,
  cursors: CursorCodec,
  list: ShardedList,
  query: { status?: TenantStatus; limit: number; cursor?: string },
): Promise<{ items: T[]; nextCursor?: string }> {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
  const position =
    query.cursor === undefined ? undefined : cursors.decode(list.scope, query.cursor, list.isPosition);
  const perShard = await Promise.all(
    list.partitions.map((partition) =>
      newestInShard(ctx, list, partition, position, query.status, limit + 1),
    ),
  );
  const sortKey = list.index.sortKey;
  const merged = perShard
    .flat()
    .sort((a, b) => ((b[sortKey] as string) < (a[sortKey] as string) ? -1 : 1))
    .slice(0, limit + 1);
  const page = merged.slice(0, limit);
  const items = (await getByKey(ctx, page)) as T[];
  if (merged.length <= limit) return { items };
  return { items, nextCursor: cursors.encode(list.scope, page[limit - 1]![sortKey] as string) };
}

/** Up to `wanted` index items of one shard older than `position`, newest first. */
async function newestInShard(
  { client, table }: TableContext,
  list: ShardedList,
  partition: string,
  position: string | undefined,
  status: TenantStatus | undefined,
  wanted: number,
): Promise<Record<string, unknown>[]> {
  const collected: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const input: QueryCommandInput = {
      TableName: table,
      IndexName: list.index.name,
      KeyConditionExpression: position === undefined ? "#pk = :pk" : "#pk = :pk AND #sk < :position",
      ExpressionAttributeNames: { "#pk": list.index.partitionKey },
      ExpressionAttributeValues: { ":pk": partition },
      ScanIndexForward: false,
      Limit: status ? FILTERED_READ : wanted - collected.length,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    };
    if (position !== undefined) {
      input.ExpressionAttributeNames!["#sk"] = list.index.sortKey;
      input.ExpressionAttributeValues![":position"] = position;
    }
    if (status) {
      input.FilterExpression = "#status = :status";
      input.ExpressionAttributeNames!["#status"] = "status";
      input.ExpressionAttributeValues![":status"] = status;
    }
    const result = await client.send(new QueryCommand(input));
    collected.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey && collected.length < wanted);
  return collected.slice(0, wanted);
}

/** The table items of index entries, in their order; an item deleted meanwhile is left out. */
async function getByKey(
  { client, table }: TableContext,
  entries: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  if (entries.length === 0) return [];
  const id = (item: Record<string, unknown>) => `${item["pk"] as string}\u0000${item["sk"] as string}`;
  const found = new Map<string, Record<string, unknown>>();
  for (let start = 0; start < entries.length; start += BATCH_GET_MAX) {
    let keys = entries.slice(start, start + BATCH_GET_MAX).map((e) => ({ pk: e["pk"], sk: e["sk"] }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > 0)
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt * Math.random())));
      const result = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys } } }));
      for (const item of result.Responses?.[table] ?? []) found.set(id(item), item);
      keys = (result.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
      if (attempt > 8 && keys.length) throw new Error("BatchGetItem kept returning unprocessed keys");
    }
  }
  return entries
    .map((e) => found.get(id(e)))
    .filter((item): item is Record<string, unknown> => item !== undefined);
}
