/**
 * The webhook store's records (endpoint, delivery, attempt), the delivery id and the item
 * shapes shared by its parts (webhook-endpoints.ts, webhook-deliveries.ts, webhook-delivery-list.ts).
 */
import type { ErrorInfo } from "../../domain/errors.ts";
import type { EventType, TenantEvent } from "../../domain/tenant.ts";
import type { DeliveryStatus, WebhookAttempt } from "../../domain/webhooks.ts";

const DELIVERY_ID = /^dlv_([A-Za-z0-9-]{1,64})_([1-9][0-9]{0,9})$/;

export const deliveryIdOf = (tenantId: string, sequence: number) => `dlv_${tenantId}_${sequence}`;

/** The tenant and sequence a delivery id names; undefined for anything this service did not issue. */
export function parseDeliveryId(deliveryId: string): { tenantId: string; sequence: number } | undefined {
  const match = DELIVERY_ID.exec(deliveryId);
  return match ? { tenantId: match[1]!, sequence: Number(match[2]) } : undefined;
}

/** Index sort key: newest first under a descending Query, a tenant's deliveries of one instant by sequence. */
export const deliveryIndexSortKey = (d: Pick<DeliveryRecord, "createdAt" | "tenantId" | "sequence">) =>
  `${d.createdAt}#${d.tenantId}#${String(d.sequence).padStart(10, "0")}`;

/** The shape of a `deliveryIndexSortKey` taken back from a cursor. */
export const isDeliveryPosition = (p: string) => /^[^#]{1,64}#[A-Za-z0-9-]{1,64}#[0-9]{10}$/.test(p);

/** The newest attempts kept on a delivery (a replayed delivery keeps collecting them). */
export const ATTEMPT_LOG_MAX = 50;

/** One attempt to POST a delivery. */
export type AttemptRecord = WebhookAttempt;

export interface EndpointRecord {
  partnerId: string;
  url: string;
  events: EventType[];
  /** `whsec_...`: signs every delivery. */
  secret: string;
  /** The secret before the last rotation: deliveries carry both signatures until it expires. */
  previousSecret?: string;
  previousSecretExpiresAt?: string;
  createdAt: string;
  updatedAt: string;
  /** Set when the endpoint answered 410 Gone; a PUT enables it again. */
  disabledAt?: string;
  disabledReason?: string;
}

export interface DeliveryRecord {
  deliveryId: string;
  eventId: string;
  partnerId: string;
  tenantId: string;
  sequence: number;
  type: EventType;
  /** The event itself: what every attempt sends. */
  event: TenantEvent;
  status: DeliveryStatus;
  /** Every attempt so far, replays included. */
  attempts: number;
  /** Attempts since creation or the last replay: the position in the retry schedule. */
  cycleAttempts: number;
  /** How often it was replayed; a queued message of an earlier round is stale. */
  replays: number;
  createdAt: string;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  lastResponseStatus?: number;
  error?: ErrorInfo;
  /** Oldest first, at most ATTEMPT_LOG_MAX. */
  attemptLog: AttemptRecord[];
}

/** What an attempt changes on a pending delivery. */
export interface AttemptUpdate {
  attempt: AttemptRecord;
  status: DeliveryStatus;
  nextAttemptAt?: string;
  error?: ErrorInfo;
}

const ENDPOINT_FIELDS = [
  "url",
  "events",
  "secret",
  "previousSecret",
  "previousSecretExpiresAt",
  "createdAt",
  "updatedAt",
  "disabledAt",
  "disabledReason",
] as const;

export function toEndpoint(item: Record<string, unknown>): EndpointRecord {
  const record: Record<string, unknown> = { partnerId: item["partnerId"] };
  for (const field of ENDPOINT_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  return record as unknown as EndpointRecord;
}

const DELIVERY_FIELDS = [
  "deliveryId",
  "eventId",
  "partnerId",
  "tenantId",
  "sequence",
  "type",
  "event",
  "status",
  "attempts",
  "cycleAttempts",
  "replays",
  "createdAt",
  "lastAttemptAt",
  "nextAttemptAt",
  "lastResponseStatus",
  "error",
  "attemptLog",
] as const;

export function toDelivery(item: Record<string, unknown>): DeliveryRecord {
  const record: Record<string, unknown> = {};
  for (const field of DELIVERY_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  record["attemptLog"] ??= [];
  return record as unknown as DeliveryRecord;
}
