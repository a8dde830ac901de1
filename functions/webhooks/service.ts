/**
 * The WebhookService port (`functions/domain/webhooks.ts`) on DynamoDB: a partner's endpoint,
 * its secret, and the delivery log with replay. Sending is the dispatchers' job; a replay is
 * handed to a {@link ReplayQueue} (SQS in AWS, the local dispatcher locally).
 */
import { randomBytes } from "node:crypto";
import { eventTag, parseDeliveryId } from "../adapters/dynamodb/webhook-records.ts";
import type {
  AttemptRecord,
  DeliveryRecord,
  DynamoWebhookStore,
  EndpointRecord,
} from "../adapters/dynamodb/webhook-store.ts";
import { WebhookNotFoundError } from "../domain/errors.ts";
import { partnerSequence } from "../domain/partner-sequence.ts";
import type { Page, Principal } from "../domain/store.ts";
import { EVENT_TYPES, type EventType } from "../domain/tenant.ts";
import type {
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointInput,
  WebhookService,
} from "../domain/webhooks.ts";
import { CLEAR_SECRETS, type SecretSealer } from "./secret-box.ts";
import { type HostResolver, type UrlPolicy, validateWebhookUrl } from "./url-policy.ts";

/** Where a replayed delivery goes to be sent again, behind the tenant's earlier deliveries. */
export interface ReplayQueue {
  queueReplay(delivery: DeliveryRecord): Promise<void>;
}

/** A delivery as this service returns it: the port's optional details always present. */
export interface WebhookDeliveryView extends WebhookDelivery {
  sequence: number;
  replays: number;
  attemptLog: AttemptRecord[];
}

export interface PartnerWebhookServiceOptions {
  webhookStore: DynamoWebhookStore;
  replays: ReplayQueue;
  /** Local runtime only: accept http and loopback URLs. @default false */
  allowInsecureLoopback?: boolean;
  /** Loopback ports refused even then (the service's own). */
  refusedLoopbackPorts?: () => readonly number[];
  /** Added to the refusal of http or loopback URLs: how to allow them (UrlPolicy.refusedHint). */
  refusedHint?: string;
  /** DNS resolver used to check URLs. @default the system's */
  resolve?: HostResolver;
  /** How long a rotated-out secret still signs (second signature). @default 24 hours */
  secretOverlapMs?: number;
  /** Encrypts new secrets before they are stored (secret-box.ts). @default clear (unit tests) */
  secrets?: SecretSealer;
}

export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** `whsec_` + base64 of 32 random bytes (Standard Webhooks: 24 to 64 bytes). */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString("base64");
}

const PUT_ATTEMPTS = 3;

/**
 * Partner webhooks: endpoint management and the delivery log.
 *
 * @example
 * const webhooks = new PartnerWebhookService({ webhookStore, replays: dispatcher });
 * const { endpoint, secret } = await webhooks.putEndpoint("p_1", { url: "https://portal.example/hooks" }, now);
 */
export class PartnerWebhookService implements WebhookService {
  readonly #store: DynamoWebhookStore;
  readonly #replays: ReplayQueue;
  readonly #policy: UrlPolicy;
  readonly #overlapMs: number;
  readonly #secrets: SecretSealer;

  constructor(options: PartnerWebhookServiceOptions) {
    this.#store = options.webhookStore;
    this.#replays = options.replays;
    this.#policy = {
      allowInsecureLoopback: options.allowInsecureLoopback ?? false,
      ...(options.refusedLoopbackPorts && { refusedLoopbackPorts: options.refusedLoopbackPorts }),
      ...(options.refusedHint && { refusedHint: options.refusedHint }),
      ...(options.resolve && { resolve: options.resolve }),
    };
    this.#overlapMs = options.secretOverlapMs ?? 24 * 3_600_000;
    this.#secrets = options.secrets ?? CLEAR_SECRETS;
  }

  /**
   * Creates or replaces the endpoint (a PUT also enables a disabled one and closes its circuit
   * breaker, same URL or not). The secret is
   * returned when the endpoint is created or `rotateSecret` is true, never otherwise.
   * Throws InvalidWebhookUrlError for a URL deliveries may not go to.
   */
  async putEndpoint(
    partnerId: string,
    input: WebhookEndpointInput,
    now: string,
  ): Promise<{ endpoint: WebhookEndpoint; secret?: string }> {
    const url = await validateWebhookUrl(input.url, this.#policy);
    const events = normaliseEvents(input.events);
    for (let attempt = 1; ; attempt++) {
      const current = await this.#store.getEndpoint(partnerId);
      if (!current) {
        const secret = generateWebhookSecret();
        // Stored encrypted; shown to the partner this once.
        const sealed = await this.#secrets.seal(secret, partnerId);
        const record: EndpointRecord = {
          partnerId,
          url,
          events,
          secret: sealed,
          createdAt: now,
          updatedAt: now,
        };
        if (await this.#store.createEndpoint(record)) {
          await this.#store.breakers.reset(partnerId);
          return { endpoint: toEndpointView(record), secret };
        }
      } else {
        const secret = input.rotateSecret ? generateWebhookSecret() : undefined;
        const updated = await this.#store.replaceEndpoint(partnerId, {
          url,
          events,
          updatedAt: now,
          ...(secret && {
            rotate: {
              secret: await this.#secrets.seal(secret, partnerId),
              previousExpiresAt: new Date(Date.parse(now) + this.#overlapMs).toISOString(),
            },
          }),
        });
        if (updated) {
          // A PUT says the endpoint is fixed: its circuit breaker closes, the next due attempt is sent.
          await this.#store.breakers.reset(partnerId);
          return { endpoint: toEndpointView(updated), ...(secret && { secret }) };
        }
      }
      // Created or deleted by a concurrent request: decide again on the new state.
      if (attempt >= PUT_ATTEMPTS) throw new Error("the webhook endpoint kept changing concurrently");
    }
  }

  async getEndpoint(partnerId: string): Promise<WebhookEndpoint> {
    const record = await this.#store.getEndpoint(partnerId);
    if (!record) throw new WebhookNotFoundError("No webhook endpoint is configured.");
    return toEndpointView(record);
  }

  async deleteEndpoint(partnerId: string): Promise<void> {
    if (!(await this.#store.deleteEndpoint(partnerId))) {
      throw new WebhookNotFoundError("No webhook endpoint is configured.");
    }
  }

  /** Newest first; a partner sees its own deliveries only, ops everyone's. */
  async listDeliveries(
    principal: Principal,
    query: { limit: number; cursor?: string; tenantId?: string },
  ): Promise<Page<WebhookDeliveryView>> {
    const partnerId = principal.role === "ops" ? undefined : ownPartnerId(principal);
    // Another partner's tenant costs the same as one that does not exist: one read of the
    // tenant item, and none of its deliveries.
    let fromSequence: number | undefined;
    if (partnerId !== undefined && query.tenantId !== undefined) {
      const owner = await this.#store.tenantOwner(query.tenantId);
      if (owner?.partnerId !== partnerId) return { items: [] };
      // After a change of owner, the previous owner's deliveries are not even read.
      fromSequence = owner.firstSequence;
    }
    const page = await this.#store.listDeliveries({
      limit: query.limit,
      ...(partnerId !== undefined && { partnerId }),
      ...(fromSequence !== undefined && { fromSequence }),
      ...(query.tenantId !== undefined && { tenantId: query.tenantId }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    return {
      items: page.items.map(toDeliveryView),
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
    };
  }

  /**
   * Sends the delivery's event again, same `webhook-id`, with a fresh retry schedule, after
   * the tenant's earlier pending deliveries. A delivery still pending is already on its way:
   * it is returned as is.
   */
  async replayDelivery(principal: Principal, deliveryId: string, now: string): Promise<WebhookDeliveryView> {
    const notFound = () => new WebhookNotFoundError(`Delivery ${deliveryId} was not found.`);
    const current = await this.#findDelivery(deliveryId);
    if (!current || (principal.role !== "ops" && current.partnerId !== ownPartnerId(principal)))
      throw notFound();
    const reopened = await this.#store.reopenDelivery(current, now);
    if (!reopened) {
      const latest = await this.#store.getDelivery(current.tenantId, current.sequence);
      return toDeliveryView(latest ?? current);
    }
    try {
      await this.#replays.queueReplay(reopened);
    } catch (err) {
      await this.#store.restoreDelivery(current, reopened);
      throw err;
    }
    return toDeliveryView(reopened);
  }

  /**
   * The delivery an id names. A tagged id counts in the tenant's current registration from its
   * offset (partner-sequence.ts) and must name the same event; a previous registration's tagged
   * ids are not found any more.
   */
  async #findDelivery(deliveryId: string): Promise<DeliveryRecord | undefined> {
    const key = parseDeliveryId(deliveryId);
    if (!key) return undefined;
    if (key.tag === undefined) return this.#store.getDelivery(key.tenantId, key.sequence);
    const owner = await this.#store.tenantOwner(key.tenantId);
    if (!owner?.sequenceOffset) return undefined;
    const found = await this.#store.getDelivery(key.tenantId, key.sequence + owner.sequenceOffset);
    return found && eventTag(found.eventId) === key.tag ? found : undefined;
  }
}

function normaliseEvents(events: readonly EventType[] | undefined): EventType[] {
  if (events === undefined) return [...EVENT_TYPES];
  const unknown = events.filter((e) => !(EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0) throw new TypeError(`unknown event types: ${unknown.join(", ")}`);
  if (events.length === 0) throw new TypeError("events must not be empty; omit it for every type");
  // Stored in the canonical order, without repeats.
  return EVENT_TYPES.filter((e) => events.includes(e));
}

function ownPartnerId(principal: Principal): string {
  // A partner principal without a partnerId would see everything: refuse loudly instead.
  if (!principal.partnerId) throw new Error("partner principal without partnerId");
  return principal.partnerId;
}

export function toEndpointView(record: EndpointRecord): WebhookEndpoint {
  return {
    url: record.url,
    events: record.events,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.disabledAt !== undefined && { disabledAt: record.disabledAt }),
    ...(record.disabledReason !== undefined && { disabledReason: record.disabledReason }),
  };
}

export function toDeliveryView(record: DeliveryRecord): WebhookDeliveryView {
  return {
    deliveryId: record.deliveryId,
    eventId: record.eventId,
    partnerId: record.partnerId,
    tenantId: record.tenantId,
    type: record.type,
    status: record.status,
    attempts: record.attempts,
    createdAt: record.createdAt,
    ...(record.lastAttemptAt !== undefined && { lastAttemptAt: record.lastAttemptAt }),
    ...(record.nextAttemptAt !== undefined &&
      record.status === "pending" && { nextAttemptAt: record.nextAttemptAt }),
    ...(record.lastResponseStatus !== undefined && { lastResponseStatus: record.lastResponseStatus }),
    ...(record.error !== undefined && { error: record.error }),
    // Counted in the partner's registration, as in the event (partner-sequence.ts).
    sequence: record.event ? partnerSequence(record.event) : record.sequence,
    replays: record.replays,
    attemptLog: record.attemptLog,
  };
}
