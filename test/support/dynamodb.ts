/** A fresh table per test file on the run's shared dynalite (see global-setup.ts). */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { createDocumentClient, createDynamoClient } from "../../functions/adapters/dynamodb/client.ts";
import { ensureTable } from "../../functions/adapters/dynamodb/table.ts";
import {
  DynamoTenantStore,
  type DynamoTenantStoreOptions,
} from "../../functions/adapters/dynamodb/tenant-store.ts";

export interface FreshTable {
  client: DynamoDBClient;
  docClient: DynamoDBDocumentClient;
  tableName: string;
  store: DynamoTenantStore;
}

/** Creates a uniquely named table (loopback endpoint: dummy credentials, no AWS access). */
export async function freshTable(
  storeOptions: Omit<DynamoTenantStoreOptions, "client" | "tableName"> = {},
): Promise<FreshTable> {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint"), region: "us-east-1" });
  const docClient = createDocumentClient({ client });
  const tableName = `test-${randomUUID()}`;
  await ensureTable(client, tableName);
  return {
    client,
    docClient,
    tableName,
    store: new DynamoTenantStore({ client: docClient, tableName, ...storeOptions }),
  };
}
