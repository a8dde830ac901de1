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

/** Puts in batches of 25, retrying unprocessed items with jittered back-off. */
export async function batchPut({ client, table }: TableContext, items: object[]): Promise<void> {
  for (let start = 0; start < items.length; start += BATCH_WRITE_MAX) {
    let requests = items.slice(start, start + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0)
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt * Math.random())));
      const { UnprocessedItems } = await client.send(
        new BatchWriteCommand({ RequestItems: { [table]: requests } }),
      );
      requests = (UnprocessedItems?.[table] ?? []) as typeof requests;
      if (attempt > 8 && requests.length) throw new Error("BatchWriteItem kept returning unprocessed items");
    }
  }
}

/** Deletes in batches of 25. */
export async function batchDelete(
  { client, table }: TableContext,
  keys: { pk: string; sk: string }[],
): Promise<void> {
  for (let start = 0; start < keys.length; start += BATCH_WRITE_MAX) {
    const requests = keys.slice(start, start + BATCH_WRITE_MAX).map((Key) => ({ DeleteRequest: { Key } }));
    await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
  }
}
