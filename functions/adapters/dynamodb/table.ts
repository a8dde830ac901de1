/**
 * Creates the table when it is missing: used by the local runtime ("creates its table
 * there when missing") and the tests. In AWS the CDK stack owns the table.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { TABLE_INDEXES, TABLE_KEYS } from "./schema.ts";

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
          GlobalSecondaryIndexes: indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: "HASH" },
              { AttributeName: index.sortKey, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          })),
        }),
      );
    } catch (err) {
      // Another process created it first.
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  const deadline = Date.now() + MAX_WAIT_MS;
  while ((await tableStatus(client, tableName)) !== "ACTIVE") {
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
