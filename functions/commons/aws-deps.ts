/**
 * AWS dependencies of the Lambda functions, built once per cold start from the environment the
 * stack sets: the tenant store on TABLE_NAME. (The Microsoft 365 gateway is in m365-deps.ts, so
 * functions that never talk to Microsoft 365 do not bundle its clients.)
 */

import { DynamoChangeLogStore } from "../adapters/dynamodb/change-log-store.ts";
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../adapters/dynamodb/tenant-store.ts";
import { retentionFromEnv } from "./config.ts";
import { tracer } from "./observability.ts";

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Missing environment variable ${name}`);
  return value;
}

let store: DynamoTenantStore | undefined;
/** The tenant store on TABLE_NAME (SDK client traced by X-Ray). */
export function tenantStore(
  options: Pick<ConstructorParameters<typeof DynamoTenantStore>[0], "onEvents" | "flushAfterWrite"> = {},
) {
  store ??= new DynamoTenantStore({
    client: createDocumentClient({ client: tracer.captureAWSv3Client(createDynamoClient()) }),
    tableName: requireEnv("TABLE_NAME"),
    ...options,
  });
  return store;
}

let changeLog: DynamoChangeLogStore | undefined;
/** The audit trail on TABLE_NAME (the tasks record writes; they never page it). */
export function changeLogStore() {
  const store = tenantStore();
  changeLog ??= new DynamoChangeLogStore({
    client: createDocumentClient({ client: tracer.captureAWSv3Client(createDynamoClient()) }),
    tableName: requireEnv("TABLE_NAME"),
    partnerOf: async (tenantId) => (await store.getTenant(tenantId))?.tenant.partnerId,
    retentionDays: retentionFromEnv().eventDays,
  });
  return changeLog;
}
