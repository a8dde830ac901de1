/**
 * The port to partner webhooks (docs/webhooks.md): one endpoint per partner, Standard Webhooks
 * deliveries, a delivery log that can be replayed. The API (`functions/api/`) calls it; the
 * implementation lives in `functions/webhooks/`.
 *
 * Isolation is the implementation's job: a partner never sees nor replays another partner's
 * deliveries; those are `WebhookNotFoundError`, exactly like ids that do not exist.
 */
import type { ErrorInfo } from "./errors.ts";
import type { Page, Principal } from "./store.ts";
import type { EventType } from "./tenant.ts";

export interface WebhookEndpointInput {
  /** http(s) URL the deliveries are POSTed to. */
  url: string;
  /** Event types to deliver; absent means every type. */
  events?: EventType[];
  /**
   * Generate a new secret (returned once). The previous one keeps signing, as a second
   * `v1,` signature, for 24 hours so that the partner can switch without losing deliveries.
   */
  rotateSecret?: boolean;
}

export interface WebhookEndpoint {
  url: string;
  /** Never empty: an absent filter is stored as every type. */
  events: EventType[];
  createdAt: string;
  updatedAt: string;
  /** Set when the endpoint answered 410 Gone: deliveries fail at once until it is PUT again. */
  disabledAt?: string;
  disabledReason?: string;
}

/** One attempt of a delivery: the delivery log. */
export interface WebhookAttempt {
  /** When the request started. */
  at: string;
  /** From the start of the request to the end of the response (or the error), in ms. */
  latencyMs: number;
  /** The endpoint's HTTP status, when it answered. */
  responseStatus?: number;
  /** Why it did not succeed: WEBHOOK_HTTP_ERROR, WEBHOOK_TIMEOUT, WEBHOOK_CONNECTION_FAILED, WEBHOOK_ADDRESS_REFUSED, WEBHOOK_DNS_FAILED. */
  error?: ErrorInfo;
}

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event on its way to one partner's endpoint, with its attempts so far. */
export interface WebhookDelivery {
  deliveryId: string;
  /** The event's id, also the `webhook-id` header of every attempt. */
  eventId: string;
  partnerId: string;
  tenantId: string;
  type: EventType;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  /** HTTP status of the last attempt, when the endpoint answered. */
  lastResponseStatus?: number;
  error?: ErrorInfo;
  /** The event's per-tenant sequence. */
  sequence?: number;
  /** How often the delivery was replayed. */
  replays?: number;
  /** The newest attempts (at most 50), oldest first. */
  attemptLog?: WebhookAttempt[];
}

export interface WebhookService {
  /**
   * Creates or replaces the partner's endpoint. `secret` (a `whsec_` value) is returned only
   * when a secret was created or rotated; it is never readable afterwards.
   */
  putEndpoint(
    partnerId: string,
    input: WebhookEndpointInput,
    now: string,
  ): Promise<{ endpoint: WebhookEndpoint; secret?: string }>;
  /** Throws WebhookNotFoundError when the partner has none. */
  getEndpoint(partnerId: string): Promise<WebhookEndpoint>;
  /** Throws WebhookNotFoundError when the partner has none. */
  deleteEndpoint(partnerId: string): Promise<void>;
  /** Newest first. Ops (no partnerId) sees every partner's. Throws InvalidCursorError on a bad cursor. */
  listDeliveries(
    principal: Principal,
    query: { limit: number; cursor?: string; tenantId?: string },
  ): Promise<Page<WebhookDelivery>>;
  /** Queues the delivery's event again; throws WebhookNotFoundError when the principal may not see it. */
  replayDelivery(principal: Principal, deliveryId: string, now: string): Promise<WebhookDelivery>;
}
