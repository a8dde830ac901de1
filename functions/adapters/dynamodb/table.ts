/**
 * Creates the table when it is missing: used by the local runtime ("creates its table
 * there when missing") and the tests. In AWS the CDK stack owns the table.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import { INDEX_PROJECTED_ATTRIBUTES, TABLE_INDEXES, TABLE_KEYS } from "./schema.ts";
import { indexesOf, rebuildTable, sideTableName } from "./table-rebuild.ts";

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

/** The table as this version creates it (keys and indexes from schema.ts, on demand). */
function tableSchema(): Omit<CreateTableCommandInput, "TableName"> {
  const indexes = Object.values(TABLE_INDEXES);
  const keyNames = [
    TABLE_KEYS.partitionKey,
    TABLE_KEYS.sortKey,
    ...indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  return {
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: keyNames.map((name) => ({ AttributeName: name, AttributeType: "S" })),
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: indexes.map(indexDefinition),
  };
}

/**
 * Creates `tableName` if needed and waits until it is ACTIVE. A table of an earlier version
 * gets the indexes it lacks: added one at a time (DynamoDB's rule), or, where the engine cannot
 * add one (the embedded engine), by rebuilding the table (table-rebuild.ts).
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  if ((await tableStatus(client, tableName)) === undefined) {
    try {
      await client.send(new CreateTableCommand({ ...tableSchema(), TableName: tableName }));
    } catch (err) {
      // Another process created it first.
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  await waitActive(client, tableName);
  // A table made by an earlier version: add the indexes it lacks, one at a time (DynamoDB's rule).
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  let addable = true;
  for (const index of Object.values(TABLE_INDEXES)) {
    if (present.has(index.name) || !addable) continue;
    try {
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
    } catch (err) {
      // The embedded engine cannot add an index to a table (it asks for a throughput, then
      // ignores the index): the table is rebuilt below.
      if ((err as Error).name !== "ValidationException") throw err;
      addable = false;
    }
  }
  const indexes = await indexesOf(client, tableName);
  const complete = Object.values(TABLE_INDEXES).every((i) => indexes?.has(i.name));
  if (!complete || (await indexesOf(client, sideTableName(tableName)))) {
    await rebuildTable(client, tableName, tableSchema());
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
