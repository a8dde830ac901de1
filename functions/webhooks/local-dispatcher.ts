/**
 * The in-process webhook dispatcher of the local runtime: the same delivery logic as the AWS
 * dispatcher, with a queue per tenant instead of an SQS message group and timers instead of
 * message visibility.
 *
 * Nothing is lost on a crash: events are durable in the store before `enqueue` sees them,
 * each delivery is durable before its first attempt, and each tenant's dispatch cursor (the
 * highest sequence whose delivery was decided) moves only after that. `recover()` at start-up
 * picks up every tenant's events after its cursor and every pending delivery.
 *
 * Events that make no delivery (the partner has no endpoint, or it does not want the type)
 * while the tenant's workflow runs move the cursor later (with its last event, after
 * `cursorLagMs`, or on close), in one write per tenant: a crash before then only makes the
 * next start decide those events again (again no delivery).
 *
 * Its parts: the queues per tenant (tenant-queues.ts), one run of a queue (queue-work.ts), the
 * lagging cursors (lagging-cursors.ts), the concurrency limits (slots.ts) and the start-up
 * recovery (local-recovery.ts).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import type { TenantEvent } from "../domain/tenant.ts";
import { consoleLogger, type DeliveryOptions, WebhookDeliverer, type WebhookLogger } from "./delivery.ts";
import { LaggingCursors } from "./lagging-cursors.ts";
import { type RecoveryReport, type RecoveryStore, recoverQueues } from "./local-recovery.ts";
import { workQueue } from "./queue-work.ts";
import { parseRetrySchedule } from "./schedule.ts";
import type { ReplayQueue } from "./service.ts";
import { Slots } from "./slots.ts";
import { orderingKey, TenantQueues } from "./tenant-queues.ts";

export type { RecoveryReport } from "./local-recovery.ts";

export interface LocalDispatcherOptions extends Omit<DeliveryOptions, "webhookStore" | "retrySchedule"> {
  /** The webhook store; or give `docClient` and `tableName` to build one. */
  webhookStore?: DynamoWebhookStore;
  docClient?: DynamoDBDocumentClient;
  tableName?: string;
  /** Tenant store: `recover()` lists tenants and their events through it. */
  store?: RecoveryStore;
  /** Retry delays in ms, or text such as `"5s,5m,30m"`. @default WEBHOOK_RETRY_SCHEDULE, else Standard Webhooks' */
  retrySchedule?: readonly number[] | string;
  /** Alias of `retrySchedule`. */
  schedule?: readonly number[] | string;
  /** First wait after a failure of the dispatcher itself (DynamoDB unreachable); doubles up to 60 s. @default 1000 */
  errorRetryMs?: number;
  /** Requests in flight at once, across tenants. @default 16 */
  maxConcurrentAttempts?: number;
  /** Of those, at most this many to one partner's endpoint. @default a quarter of maxConcurrentAttempts */
  maxConcurrentAttemptsPerPartner?: number;
  /**
   * How long the cursor of events without a delivery may lag in the table while the tenant's
   * workflow runs (ms); its last event (a status other than queued, running, offboarding)
   * moves it at once. @default 30000
   */
  cursorLagMs?: number;
}

export interface LocalDispatcher extends ReplayQueue {
  /** Plugs into the store's `onEvents`: never throws, returns at once. */
  enqueue(events: readonly TenantEvent[], partnerId: string): void;
  /**
   * Resumes everything a previous process left undone: for each tenant, its pending
   * deliveries and its events after the dispatch cursor. Needs `store`. Await it before the
   * process writes new events (before the API and any other start-up recovery): a tenant's
   * new event admitted before its old ones were listed would move the cursor past them.
   */
  recover(): Promise<RecoveryReport>;
  /** Resolves once every queue is empty (all delivered or failed); tests use it. */
  idle(): Promise<void>;
  /** Stops timers, waits for attempts in flight; later enqueues are ignored. */
  close(): Promise<void>;
}

/**
 * Builds the local dispatcher.
 *
 * @example
 * const dispatcher = createLocalDispatcher({ docClient, tableName, allowInsecureLoopback: true });
 * const store = new DynamoTenantStore({ client: docClient, tableName, onEvents: dispatcher.enqueue });
 * dispatcher.attachStore(store) // or pass `store` up front when it exists already
 * await dispatcher.recover();
 */
export function createLocalDispatcher(
  options: LocalDispatcherOptions,
): LocalDispatcher & { attachStore(store: RecoveryStore): void } {
  const webhookStore =
    options.webhookStore ??
    (options.docClient && options.tableName
      ? new DynamoWebhookStore({ client: options.docClient, tableName: options.tableName })
      : undefined);
  if (!webhookStore)
    throw new TypeError("createLocalDispatcher needs webhookStore, or docClient and tableName");
  const given = options.retrySchedule ?? options.schedule;
  const schedule = typeof given === "string" ? parseRetrySchedule(given) : given;
  const logger: WebhookLogger = options.logger ?? consoleLogger;
  const { retrySchedule: _retrySchedule, schedule: _schedule, ...deliveryOptions } = options;
  const deliverer = new WebhookDeliverer({
    ...deliveryOptions,
    webhookStore,
    ...(schedule && { retrySchedule: schedule }),
  });
  const cursors = new LaggingCursors(
    (tenantId, sequence) => webhookStore.advanceDispatchCursor(tenantId, sequence),
    logger,
    options.cursorLagMs ?? 30_000,
  );
  const slots = new Slots(options.maxConcurrentAttempts ?? 16, options.maxConcurrentAttemptsPerPartner);
  const queues: TenantQueues = new TenantQueues(
    (queue) => workQueue({ webhookStore, deliverer, cursors, slots, closed: () => queues.closed }, queue),
    logger,
    options.errorRetryMs ?? 1000,
  );
  let store = options.store;

  return {
    enqueue(events: readonly TenantEvent[], partnerId: string): void {
      if (queues.closed) return;
      const touched = new Set<string>();
      for (const event of events) {
        const key = orderingKey(event.data.tenantId, partnerId);
        queues.add(key, event.data.tenantId, event.data.sequence, { event, partnerId, admitted: false });
        touched.add(key);
      }
      for (const key of touched) queues.pump(key);
    },

    async queueReplay(delivery: { tenantId: string; sequence: number; partnerId?: string }): Promise<void> {
      if (queues.closed) throw new Error("the webhook dispatcher is closed");
      const key = orderingKey(delivery.tenantId, delivery.partnerId);
      queues.add(key, delivery.tenantId, delivery.sequence, { admitted: true }, true);
      queues.pump(key);
    },

    async recover(): Promise<RecoveryReport> {
      if (!store) throw new TypeError("recover() needs the tenant store (option `store` or attachStore)");
      return recoverQueues(store, webhookStore, queues);
    },

    idle: () => queues.idle(),

    async close(): Promise<void> {
      cursors.stop();
      await queues.stop();
      await cursors.close();
      queues.clear();
    },

    attachStore(tenantStore: RecoveryStore): void {
      store = tenantStore;
    },
  };
}
