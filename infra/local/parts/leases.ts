/**
 * The service's Exchange leases on its table (one owner per DATA_DIR, see tenant-leases.ts);
 * `stop` frees the idle ones.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { TenantLeases } from "../../../functions/adapters/m365/tenant-leases.ts";
import { localTenantLeases } from "../tenant-leases.ts";
import type { Part } from "./parts.ts";

export function startTenantLeases(
  docClient: DynamoDBDocumentClient,
  tableName: string,
  dataDir: string,
): Part & { lease: TenantLeases } {
  const lease = localTenantLeases(docClient, tableName, dataDir);
  return { lease, stop: () => lease.releaseIdle() };
}
