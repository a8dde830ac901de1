/** Small DynamoDB helpers shared by the stores. */
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";

/** What every part of a store needs: the document client and the table's name. */
export interface TableContext {
  client: DynamoDBDocumentClient;
  table: string;
}

/**
 * One page of a secondary index's entries in partition `pk` whose sort key is below `before`
 * (ascending), from `startKey`, at most `limit`.
 */
export function queryIndexBefore(
  ctx: TableContext,
  index: { name: string; partitionKey: string; sortKey: string },
  pk: string,
  before: string,
  page: { limit?: number; startKey?: Record<string, unknown> } = {},
) {
  return ctx.client.send(
    new QueryCommand({
      TableName: ctx.table,
      IndexName: index.name,
      KeyConditionExpression: "#pk = :pk AND #sk < :before",
      ExpressionAttributeNames: { "#pk": index.partitionKey, "#sk": index.sortKey },
      ExpressionAttributeValues: { ":pk": pk, ":before": before },
      ...(page.limit !== undefined && { Limit: page.limit }),
      ...(page.startKey && { ExclusiveStartKey: page.startKey }),
    }),
  );
}

const BATCH_WRITE_MAX = 25;

// By name: an instanceof check breaks when two copies of the SDK are installed.
export const isConditionFailure = (err: unknown) =>
  (err as Error | undefined)?.name === "ConditionalCheckFailedException";

/** Every item a query matches, following LastEvaluatedKey to the end. */
export async function queryAll(
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, "ExclusiveStartKey">,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const result = await client.send(
      new QueryCommand({ ...input, ...(startKey && { ExclusiveStartKey: startKey }) }),
    );
    items.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey);
  return items;
}

type WriteRequest = { PutRequest: { Item: object } } | { DeleteRequest: { Key: Record<string, unknown> } };

/** Retries of the items DynamoDB left unprocessed (throttling) before giving up loudly. */
const UNPROCESSED_RETRIES = 10;

/**
 * Writes in batches of 25. DynamoDB may process only part of a batch (throttling) and return the
 * rest as UnprocessedItems: those are sent again with jittered back-off until none is left, or
 * fail loudly after UNPROCESSED_RETRIES (a silently dropped delete would leave a membership or a
 * group part behind).
 */
async function batchWrite({ client, table }: TableContext, all: WriteRequest[]): Promise<void> {
  for (let start = 0; start < all.length; start += BATCH_WRITE_MAX) {
    let requests = all.slice(start, start + BATCH_WRITE_MAX);
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) {
        throw new Error(`BatchWriteItem left ${requests.length} items unprocessed after ${attempt} attempts`);
      }
      if (attempt > 0) {
        await new Promise((r) => setTimeout(r, Math.min(2000, 25 * 2 ** attempt) * Math.random()));
      }
      const { UnprocessedItems } = await client.send(
        new BatchWriteCommand({ RequestItems: { [table]: requests as never } }),
      );
      requests = (UnprocessedItems?.[table] ?? []) as WriteRequest[];
    }
  }
}

/** Puts in batches of 25, retrying unprocessed items (see batchWrite). */
export async function batchPut(ctx: TableContext, items: object[]): Promise<void> {
  await batchWrite(
    ctx,
    items.map((Item) => ({ PutRequest: { Item } })),
  );
}

/** Deletes in batches of 25, retrying unprocessed items (see batchWrite). */
export async function batchDelete(ctx: TableContext, keys: { pk: string; sk: string }[]): Promise<void> {
  await batchWrite(
    ctx,
    keys.map((Key) => ({ DeleteRequest: { Key } })),
  );
}
