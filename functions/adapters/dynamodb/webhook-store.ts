/**
 * Webhook persistence on the service's one table, by aggregate (summary in README.md,
 * "Webhooks"): endpoints (webhook-endpoints.ts), deliveries (webhook-deliveries.ts, listed by
 * webhook-delivery-list.ts) and the local dispatcher's cursors (webhook-dispatch-cursor.ts);
 * records and ids in webhook-records.ts, key values in keys.ts. This module is the one port
 * the webhook service and both dispatchers use.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { retentionFromEnv } from "../../commons/config.ts";
import type { Page } from "../../domain/store.ts";
import { CursorCodec } from "./cursor.ts";
import type { TableContext } from "./query.ts";
import { DynamoEndpointBreakers } from "./webhook-breaker.ts";
import { DynamoWebhookDeliveries } from "./webhook-deliveries.ts";
import { type DeliveryListQuery, listDeliveries, tenantOwner } from "./webhook-delivery-list.ts";
import { DynamoDispatchCursors } from "./webhook-dispatch-cursor.ts";
import { DynamoWebhookEndpoints, type EndpointChange } from "./webhook-endpoints.ts";
import type { AttemptRecord, AttemptUpdate, DeliveryRecord, EndpointRecord } from "./webhook-records.ts";

export type { AttemptRecord, AttemptUpdate, DeliveryRecord, EndpointRecord } from "./webhook-records.ts";

export interface DynamoWebhookStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** HMAC key of delivery list cursors. @default a key derived from the table name */
  cursorSecret?: string;
  /**
   * How long settled deliveries stay listable and replayable (TTL).
   * @default `EVENT_RETENTION_DAYS` (90)
   */
  retentionDays?: number;
  /**
   * Remember for this long (ms) that a partner has no endpoint, so that events of partners
   * without one cost no read. Only where every endpoint write goes through this instance (the
   * local runtime: one process per DATA_DIR): each write through it forgets what was
   * remembered, before and after it. Never in AWS, where the API writes endpoints in other
   * processes. @default 0 (off)
   */
  rememberMissingEndpointsMs?: number;
}

/**
 * Webhook persistence (endpoints, deliveries, dispatch cursors) on DynamoDB.
 *
 * @example
 * const webhookStore = new DynamoWebhookStore({ client: createDocumentClient(), tableName: "journal-onboarding" });
 * const endpoint = await webhookStore.getEndpoint("p_123");
 */
export class DynamoWebhookStore {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;
  readonly #endpoints: DynamoWebhookEndpoints;
  readonly #deliveries: DynamoWebhookDeliveries;
  readonly #dispatchCursors: DynamoDispatchCursors;
  /** Endpoints' circuit breakers (functions/webhooks/circuit-breaker.ts). */
  readonly breakers: DynamoEndpointBreakers;

  constructor(options: DynamoWebhookStoreOptions) {
    this.#ctx = { client: options.client, table: options.tableName };
    this.#cursors = new CursorCodec(
      options.cursorSecret ?? `journal-onboarding-webhooks:${options.tableName}`,
    );
    this.#endpoints = new DynamoWebhookEndpoints(this.#ctx, options.rememberMissingEndpointsMs ?? 0);
    this.#deliveries = new DynamoWebhookDeliveries(
      this.#ctx,
      options.retentionDays ?? retentionFromEnv().eventDays,
    );
    this.#dispatchCursors = new DynamoDispatchCursors(this.#ctx);
    this.breakers = new DynamoEndpointBreakers(this.#ctx);
  }

  // ---- endpoints -------------------------------------------------------------------------

  /**
   * True when the partner was read without an endpoint recently and no endpoint was written
   * through this instance since (`rememberMissingEndpointsMs`); false when unknown.
   */
  knownWithoutEndpoint(partnerId: string): boolean {
    return this.#endpoints.knownWithoutEndpoint(partnerId);
  }
  getEndpoint(partnerId: string): Promise<EndpointRecord | undefined> {
    return this.#endpoints.get(partnerId);
  }
  /** Creates the endpoint; false when the partner already has one. */
  createEndpoint(record: EndpointRecord): Promise<boolean> {
    return this.#endpoints.create(record);
  }
  /**
   * Replaces url/events (and the secret when given), enables the endpoint again. Conditional
   * on the endpoint existing; undefined when it does not (deleted meanwhile).
   */
  replaceEndpoint(partnerId: string, change: EndpointChange): Promise<EndpointRecord | undefined> {
    return this.#endpoints.replace(partnerId, change);
  }
  /** False when there was none. */
  deleteEndpoint(partnerId: string): Promise<boolean> {
    return this.#endpoints.delete(partnerId);
  }
  /** Disables the endpoint, unless its URL changed meanwhile (the partner fixed it). */
  disableEndpoint(partnerId: string, url: string, reason: string, now: string): Promise<void> {
    return this.#endpoints.disable(partnerId, url, reason, now);
  }

  // ---- deliveries ------------------------------------------------------------------------

  /** The partner the tenant is registered to, its registration's first sequence and offset. */
  tenantOwner(tenantId: string): ReturnType<typeof tenantOwner> {
    return tenantOwner(this.#ctx, tenantId);
  }
  /** Creates the delivery unless it exists; returns the stored one either way. */
  createDelivery(record: DeliveryRecord): Promise<DeliveryRecord> {
    return this.#deliveries.create(record);
  }
  getDelivery(tenantId: string, sequence: number): Promise<DeliveryRecord | undefined> {
    return this.#deliveries.get(tenantId, sequence);
  }
  /** Records an attempt on a pending delivery read as `current`; undefined when it changed meanwhile. */
  recordAttempt(
    current: DeliveryRecord,
    update: Omit<AttemptUpdate, "attempt"> & { attempt?: AttemptRecord },
  ): Promise<DeliveryRecord | undefined> {
    return this.#deliveries.recordAttempt(current, update);
  }
  /** Puts a settled delivery back to `pending`; undefined when it is pending already. */
  reopenDelivery(current: DeliveryRecord, now: string): Promise<DeliveryRecord | undefined> {
    return this.#deliveries.reopen(current, now);
  }
  /** Undoes {@link reopenDelivery} when the replay could not be queued. */
  restoreDelivery(previous: DeliveryRecord, reopened: DeliveryRecord): Promise<void> {
    return this.#deliveries.restore(previous, reopened);
  }
  /** The tenant's pending deliveries, in sequence order (start-up recovery). */
  pendingDeliveries(tenantId: string): Promise<DeliveryRecord[]> {
    return this.#deliveries.pending(tenantId);
  }
  /**
   * Newest first: a partner's deliveries, or everyone's (ops), or one tenant's (narrowed to
   * `partnerId` when given). Throws InvalidCursorError for a cursor not issued for the same list.
   */
  listDeliveries(query: DeliveryListQuery): Promise<Page<DeliveryRecord>> {
    return listDeliveries(this.#ctx, this.#cursors, query);
  }

  // ---- dispatch cursor (local runtime) ---------------------------------------------------

  /** Highest sequence of the tenant whose delivery was decided; 0 when none. */
  getDispatchCursor(tenantId: string): Promise<number> {
    return this.#dispatchCursors.get(tenantId);
  }
  /** Moves the cursor forward to `sequence` (never back). */
  advanceDispatchCursor(tenantId: string, sequence: number): Promise<void> {
    return this.#dispatchCursors.advance(tenantId, sequence);
  }
}
