/**
 * The local service's Exchange leases: on its table, as in AWS, so that services sharing one
 * DYNAMODB_ENDPOINT table keep the per-tenant cap between them. The owner is this host's DATA_DIR
 * (one process each, by its lock): a restart after a crash takes its own leases back at once.
 */
import { hostname } from "node:os";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoTenantLeaseStore } from "../../functions/adapters/dynamodb/tenant-lease-store.ts";
import { TenantLeases } from "../../functions/adapters/m365/tenant-leases.ts";

export function localTenantLeases(client: DynamoDBDocumentClient, tableName: string, dataDir: string) {
  return new TenantLeases({
    store: new DynamoTenantLeaseStore({ client, tableName }),
    owner: `local:${hostname()}:${dataDir}`,
  });
}
