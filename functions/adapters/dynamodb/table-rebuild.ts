/**
 * Gives a local table the indexes of this version when its engine cannot add an index to an
 * existing table (the embedded engine, dynalite, creates indexes only with a table): the items
 * are copied to a side table, the table is created again with the current schema, and the
 * items are copied back. Each step can be interrupted and resumed at the next start: the side
 * table is only deleted once the table holds every item again.
 *
 * Local only (a DATA_DIR of an earlier version): it scans, and holds a page of items at a time.
 */
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";

const BATCH = 25;
const POLL_MS = 50;

/** The side table's name. */
export const sideTableName = (tableName: string) => `${tableName}-rebuild`;

/**
 * Rebuilds `tableName` with `schema` (CreateTable input without its name), resuming an
 * interrupted rebuild first. Returns how many items were carried over.
 */
export async function rebuildTable(
  client: DynamoDBClient,
  tableName: string,
  schema: Omit<CreateTableCommandInput, "TableName">,
): Promise<number> {
  const side = sideTableName(tableName);
  const wanted = (schema.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName ?? "");
  const present = await indexesOf(client, tableName);
  if (!present || !wanted.every((name) => present.has(name))) {
    if (present) {
      // The table of the earlier version: copied aside from the start (a partial copy of an
      // interrupted attempt is dropped first), then created again.
      if (await indexesOf(client, side)) await drop(client, side);
      await create(client, side, schema);
      await copy(client, tableName, side);
      await drop(client, tableName);
    }
    await create(client, tableName, schema);
  }
  // The table has the current schema; whatever is aside goes back (again, if interrupted).
  if (!(await indexesOf(client, side))) return 0;
  const count = await copy(client, side, tableName);
  await drop(client, side);
  return count;
}

/** The table's index names; undefined when there is no such table. */
export async function indexesOf(client: DynamoDBClient, name: string): Promise<Set<string> | undefined> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    return new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName ?? ""));
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

async function create(
  client: DynamoDBClient,
  name: string,
  schema: Omit<CreateTableCommandInput, "TableName">,
): Promise<void> {
  await client.send(new CreateTableCommand({ ...schema, TableName: name }));
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const busy = (Table?.GlobalSecondaryIndexes ?? []).some(
      (i) => i.IndexStatus && i.IndexStatus !== "ACTIVE",
    );
    if (Table?.TableStatus === "ACTIVE" && !busy) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function drop(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: name }));
  while (await indexesOf(client, name)) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
}

/** Every item of `from` put into `to` (raw attribute values, as stored); returns the count. */
async function copy(client: DynamoDBClient, from: string, to: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: from, ...(startKey && { ExclusiveStartKey: startKey }) }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += BATCH) {
      let requests: WriteRequest[] = items.slice(i, i + BATCH).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await client.send(
          new BatchWriteItemCommand({ RequestItems: { [to]: requests } }),
        );
        requests = UnprocessedItems?.[to] ?? [];
      }
    }
    count += items.length;
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  return count;
}
