/**
 * The local dispatcher's start-up recovery: for each tenant, its pending deliveries (mid-retry
 * when the process stopped) and its events after the dispatch cursor go back into its queues.
 */
import type { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import type { TenantStore } from "../domain/store.ts";
import { orderingKey, type TenantQueues } from "./tenant-queues.ts";

const RECOVERY_CONCURRENCY = 4;

/** What `recover()` found. */
export interface RecoveryReport {
  tenants: number;
  /** Events after a tenant's dispatch cursor (not yet turned into deliveries, or skipped). */
  events: number;
  /** Deliveries still pending (mid-retry when the process stopped). */
  pendingDeliveries: number;
}

export type RecoveryStore = Pick<TenantStore, "listTenants" | "listEvents" | "getTenant">;

/** Queues every tenant's unfinished work, a few tenants at a time. */
export async function recoverQueues(
  tenantStore: RecoveryStore,
  webhookStore: Pick<DynamoWebhookStore, "pendingDeliveries" | "getDispatchCursor">,
  queues: TenantQueues,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { tenants: 0, events: 0, pendingDeliveries: 0 };
  let cursor: string | undefined;
  do {
    const page = await tenantStore.listTenants({ limit: 100, ...(cursor !== undefined && { cursor }) });
    for (let i = 0; i < page.items.length; i += RECOVERY_CONCURRENCY) {
      await Promise.all(
        page.items
          .slice(i, i + RECOVERY_CONCURRENCY)
          .map((tenant) => recoverTenant(tenantStore, webhookStore, queues, tenant, report)),
      );
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return report;
}

async function recoverTenant(
  tenantStore: RecoveryStore,
  webhookStore: Pick<DynamoWebhookStore, "pendingDeliveries" | "getDispatchCursor">,
  queues: TenantQueues,
  { tenantId, partnerId }: { tenantId: string; partnerId: string },
  report: RecoveryReport,
): Promise<void> {
  // Lists show partners' claims too (records of a tenant bound to someone else): only the
  // bound tenant's owner gets its events.
  if (!(await tenantStore.getTenant(tenantId, { partnerId }))) return;
  const [pending, dispatched] = await Promise.all([
    webhookStore.pendingDeliveries(tenantId),
    webhookStore.getDispatchCursor(tenantId),
  ]);
  const events = await tenantStore.listEvents(tenantId, { afterSequence: dispatched });
  report.tenants++;
  report.events += events.length;
  report.pendingDeliveries += pending.length;
  if (queues.closed) return;
  const touched = new Set<string>();
  for (const delivery of pending) {
    const key = orderingKey(tenantId, delivery.partnerId);
    queues.add(key, tenantId, delivery.sequence, { admitted: true });
    touched.add(key);
  }
  const key = orderingKey(tenantId, partnerId);
  for (const event of events) {
    queues.add(key, tenantId, event.data.sequence, { event, partnerId, admitted: false });
    touched.add(key);
  }
  for (const k of touched) queues.pump(k);
}
