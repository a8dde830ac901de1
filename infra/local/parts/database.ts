/**
 * DynamoDB: the embedded engine (dynalite on its own thread, its files under DATA_DIR), or the
 * table at DYNAMODB_ENDPOINT; the table is created when missing, and state of an earlier
 * version is brought up to date once.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient, createDynamoClient } from "../../../functions/adapters/dynamodb/client.ts";
import { reserveCustomerNamesAtStart } from "../../../functions/adapters/dynamodb/customer-names.ts";
import { backfillListKeys } from "../../../functions/adapters/dynamodb/list-keys.ts";
import { DEFAULT_TABLE_NAME } from "../../../functions/adapters/dynamodb/schema.ts";
import { ensureTable } from "../../../functions/adapters/dynamodb/table.ts";
import { startDynalite } from "../dynamodb.ts";
import type { Part } from "./parts.ts";

export interface Database extends Part {
  /** The embedded engine's endpoint, or DYNAMODB_ENDPOINT. */
  endpoint: string;
  tableName: string;
  client: DynamoDBClient;
  docClient: DynamoDBDocumentClient;
}

/** Starts the embedded engine unless DYNAMODB_ENDPOINT is set; `stop` stops the engine. */
export async function startDatabase(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  logger: Logger,
): Promise<Database> {
  let endpoint = env["DYNAMODB_ENDPOINT"];
  const embedded = !endpoint;
  let stop = async () => {};
  if (!endpoint) {
    // On its own thread: the service's event loop runs the service, not the database.
    const dynalite = await startDynalite({ path: join(dataDir, "dynamodb"), thread: true });
    stop = () => dynalite.close();
    endpoint = dynalite.endpoint;
  }
  try {
    const tableName = env["TABLE_NAME"] ?? DEFAULT_TABLE_NAME;
    const client = createDynamoClient({ endpoint, embedded });
    await ensureTable(client, tableName);
    const docClient = createDocumentClient({ client });
    await migrateOnce(docClient, tableName, dataDir, logger);
    return { endpoint, tableName, client, docClient, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** State of an earlier version, brought up to date once per DATA_DIR and table (a file marks it done). */
async function migrateOnce(
  docClient: DynamoDBDocumentClient,
  table: string,
  dataDir: string,
  logger: Logger,
): Promise<void> {
  // Its tenants, partners and deliveries get their sharded list keys.
  const listKeysDone = join(dataDir, `list-keys-v2-${table}`);
  if (!existsSync(listKeysDone)) {
    await backfillListKeys({ client: docClient, table });
    await writeFile(listKeysDone, `${new Date().toISOString()}\n`);
  }
  // customerName was reserved per partner at claim time.
  const namesDone = join(dataDir, `customer-names-v2-${table}`);
  if (!existsSync(namesDone)) {
    await reserveCustomerNamesAtStart({ client: docClient, table }, logger);
    await writeFile(namesDone, `${new Date().toISOString()}\n`);
  }
}
