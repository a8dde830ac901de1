/** Small DynamoDB helpers shared by the stores. */
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";

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
