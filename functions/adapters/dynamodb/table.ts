/**
 * Creates the table when it is missing: used by the local runtime ("creates its table
 * there when missing") and the tests. In AWS the CDK stack owns the table.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import { INDEX_PROJECTED_ATTRIBUTES, TABLE_INDEXES, TABLE_KEYS } from "./schema.ts";

const indexDefinition = (
  index: (typeof TABLE_INDEXES)[keyof typeof TABLE_INDEXES],
): GlobalSecondaryIndex => ({
  IndexName: index.name,
  KeySchema: [
    { AttributeName: index.partitionKey, KeyType: "HASH" },
    { AttributeName: index.sortKey, KeyType: "RANGE" },
  ],
  Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
});

const POLL_MS = 50;
const MAX_WAIT_MS = 60_000;

/** Creates `tableName` (keys and indexes from schema.ts, on demand) if needed and waits until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if ((await tableStatus(client, tableName)) === undefined) {
    const indexes = Object.values(TABLE_INDEXES);
    const keyNames = [
      TABLE_KEYS.partitionKey,
      TABLE_KEYS.sortKey,
      ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
    ];
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: keyNames.map((name) => ({ AttributeName: name, AttributeType: "S" })),
          KeySchema: [
            { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
            { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
          ],
          GlobalSecondaryIndexes: indexes.map(indexDefinition),
        }),
      );
    } catch (err) {
      // Another process created it first.
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  await waitActive(client, tableName);
  // A table made by an earlier version: add the indexes it lacks, one at a time (DynamoDB's rule).
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of Object.values(TABLE_INDEXES)) {
    if (present.has(index.name)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [index.partitionKey, index.sortKey].map((name) => ({
          AttributeName: name,
          AttributeType: "S",
        })),
        GlobalSecondaryIndexUpdates: [{ Create: indexDefinition(index) }],
      }),
    );
    await waitActive(client, tableName);
  }
}

async function waitActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + MAX_WAIT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const busy = (Table?.GlobalSecondaryIndexes ?? []).some(
      (i) => i.IndexStatus && i.IndexStatus !== "ACTIVE",
    );
    if (Table?.TableStatus === "ACTIVE" && !busy) return;
    if (Date.now() > deadline)
      throw new Error(`Table ${tableName} did not become ACTIVE within ${MAX_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.TableStatus;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}
