/**
 * The webhook store's records (endpoint, delivery, attempt), the delivery id and the item
 * shapes shared by its parts (webhook-endpoints.ts, webhook-deliveries.ts, webhook-delivery-list.ts).
 */
import type { ErrorInfo } from "../../domain/errors.ts";
import type { EventType, TenantEvent } from "../../domain/tenant.ts";
import type { DeliveryStatus, WebhookAttempt } from "../../domain/webhooks.ts";

const DELIVERY_ID = /^dlv_([A-Za-z0-9-]{1,64})_([1-9][0-9]{0,9})(?:_([a-z0-9]{12}))?$/;

/** The stored key's name of a delivery (the tenant's stored sequence): never shown to partners. */
export const deliveryIdOf = (tenantId: string, sequence: number) => `dlv_${tenantId}_${sequence}`;

/** The tag a delivery id carries of its event (the last 12 letters or digits of its id). */
export const eventTag = (eventId: string) =>
  eventId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(-12);

/**
 * The delivery id a partner sees: `dlv_<tenantId>_<sequence>` with the sequence the partner sees
 * (functions/domain/partner-sequence.ts). A registration counted from an offset (the tenant came
 * from another partner) adds its event's tag, so that the id names one delivery only and says
 * nothing of the stored sequence.
 */
export function deliveryIdFor(event: TenantEvent): string {
  const offset = event.sequenceOffset ?? 0;
  const id = deliveryIdOf(event.data.tenantId, event.data.sequence - offset);
  return offset > 0 ? `${id}_${eventTag(event.id)}` : id;
}

/**
 * What a delivery id names: the tenant, the sequence the partner sees and, with a tag, that it
 * is counted in the tenant's current registration from its offset. Undefined for anything this
 * service did not issue.
 */
export function parseDeliveryId(
  deliveryId: string,
): { tenantId: string; sequence: number; tag?: string } | undefined {
  const match = DELIVERY_ID.exec(deliveryId);
  if (!match) return undefined;
  return { tenantId: match[1]!, sequence: Number(match[2]), ...(match[3] && { tag: match[3] }) };
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
