/**
 * The tenant store (its events go to the webhook dispatcher) and the change log, on the
 * service's table. Nothing to stop: they hold no connection of their own.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoChangeLogStore } from "../../../functions/adapters/dynamodb/change-log-store.ts";
import { DynamoTenantStore } from "../../../functions/adapters/dynamodb/tenant-store.ts";
import type { retentionFromEnv } from "../../../functions/commons/config.ts";
import type { LocalWebhooks } from "../../../functions/webhooks/index.ts";

export interface Stores {
  store: DynamoTenantStore;
  /** The audit trail of writes in customers' tenants. */
  changeLog: DynamoChangeLogStore;
}

export function createStores(options: {
  docClient: DynamoDBDocumentClient;
  tableName: string;
  cursorSecret: string;
  retention: ReturnType<typeof retentionFromEnv>;
  webhooks: LocalWebhooks;
}): Stores {
  const { docClient: client, tableName, cursorSecret, retention, webhooks } = options;
  const store = new DynamoTenantStore({
    client,
    tableName,
    cursorSecret,
    retention,
    onEvents: webhooks.dispatcher.enqueue,
    // A running workflow's outbox is trimmed once per 8 events, not after each.
    lazyOutboxTrim: true,
  });
  webhooks.dispatcher.attachStore(store);
  const changeLog = new DynamoChangeLogStore({
    client,
    tableName,
    cursorSecret,
    partnerOf: async (tenantId) => (await store.getTenant(tenantId))?.tenant.partnerId,
    retentionDays: retention.eventDays,
  });
  return { store, changeLog };
}
