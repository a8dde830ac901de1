/**
 * The delivery logic both runtimes share (the AWS dispatcher and the local one): turn an event
 * into a delivery, and make one attempt of a pending delivery when it is due. Ordering and
 * timing (per-tenant FIFO, timers or SQS visibility) are the runtimes' part.
 */

import { deliveryIdFor } from "../adapters/dynamodb/webhook-records.ts";
import type {
  AttemptRecord,
  DeliveryRecord,
  DynamoWebhookStore,
  EndpointRecord,
} from "../adapters/dynamodb/webhook-store.ts";
import { parseRetryAfter } from "../commons/http.ts";
import { type ErrorInfo, InvalidWebhookUrlError } from "../domain/errors.ts";
import { partnerSequence } from "../domain/partner-sequence.ts";
import { publicEventData, type TenantEvent } from "../domain/tenant.ts";
import { type BreakerVerdict, EndpointBreaker } from "./circuit-breaker.ts";
import { nextRetryDelay, retryScheduleFromEnv } from "./schedule.ts";
import { CLEAR_SECRETS, type SecretOpener } from "./secret-box.ts";
import { DEFAULT_TIMEOUT_MS, type SendResult, sendWebhook, signatureHeaders } from "./sender.ts";
import {
  checkWebhookUrlSyntax,
  HostLookupError,
  type HostResolver,
  resolveDeliveryAddress,
  type UrlPolicy,
} from "./url-policy.ts";

export interface WebhookLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Plain console logging; fields never include secrets, URLs or bodies. */
export const consoleLogger: WebhookLogger = {
  warn: (message, fields) => console.warn(message, fields ?? ""),
  error: (message, fields) => console.error(message, fields ?? ""),
};

export interface DeliveryOptions {
  webhookStore: DynamoWebhookStore;
  /** Decrypts stored endpoint secrets to sign (secret-box.ts). @default clear secrets only */
  secrets?: SecretOpener;
  /**
   * Delays (ms) of the retries after the first, immediate attempt.
   * @default WEBHOOK_RETRY_SCHEDULE when set, else the Standard Webhooks example schedule
   */
  retrySchedule?: readonly number[];
  /** Per attempt, for the whole exchange. @default 15000 (or WEBHOOK_TIMEOUT_MS) */
  timeoutMs?: number;
  /** How long an endpoint is left alone after a timeout (circuit-breaker.ts); doubles in a row. @default 30000 */
  breakerOpenMs?: number;
  /** Local runtime only: http and loopback receivers. @default false */
  allowInsecureLoopback?: boolean;
  /** Loopback ports refused even then (the service's own). */
  refusedLoopbackPorts?: () => readonly number[];
  /** DNS resolver (tests give one that answers public addresses). @default the system's */
  resolve?: HostResolver;
  /** @default () => new Date() */
  clock?: () => Date;
  /** Jitter source, [0, 1). @default Math.random */
  random?: () => number;
  /** Told after every recorded attempt (metrics, tests). */
  onAttempt?: (delivery: DeliveryRecord, attempt: AttemptRecord) => void;
  /** @default consoleLogger */
  logger?: WebhookLogger;
}

/** What to do with a delivery after {@link WebhookDeliverer.attempt}. */
export type AttemptOutcome =
  /** Nothing more to send: succeeded, failed for good, gone, or not (any longer) pending. */
  | { state: "settled"; delivery?: DeliveryRecord }
  /** Still pending: try again at `until` (epoch ms). */
  | { state: "waiting"; until: number; delivery: DeliveryRecord };

/** The webhook body of an event: `{type, timestamp, data}` (docs/webhooks.md). */
export function webhookBody(event: TenantEvent): string {
  const data = publicEventData(event.data);
  // The sequence counted in the partner's registration (partner-sequence.ts).
  return JSON.stringify({
    type: event.type,
    timestamp: event.timestamp,
    data: { ...data, sequence: partnerSequence(event) },
  });
}

function timeoutFromEnv(): number {
  const value = Number(process.env["WEBHOOK_TIMEOUT_MS"]);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_TIMEOUT_MS;
}

/**
 * Creates deliveries and makes attempts. Stateless apart from its options: any number of
 * instances (Lambda invocations, a local dispatcher) can work on the same table.
 */
export class WebhookDeliverer {
  readonly #store: DynamoWebhookStore;
  readonly #schedule: readonly number[];
  readonly #timeoutMs: number;
  readonly #policy: UrlPolicy;
  readonly #clock: () => Date;
  readonly #random: () => number;
  readonly #onAttempt: DeliveryOptions["onAttempt"];
  readonly #logger: WebhookLogger;

  readonly #secrets: SecretOpener;
  readonly #breaker: EndpointBreaker;
  constructor(options: DeliveryOptions) {
    this.#store = options.webhookStore;
    this.#secrets = options.secrets ?? CLEAR_SECRETS;
    this.#schedule = options.retrySchedule ?? retryScheduleFromEnv();
    this.#timeoutMs = options.timeoutMs ?? timeoutFromEnv();
    this.#policy = {
      allowInsecureLoopback: options.allowInsecureLoopback ?? false,
      ...(options.refusedLoopbackPorts && { refusedLoopbackPorts: options.refusedLoopbackPorts }),
      ...(options.resolve && { resolve: options.resolve }),
    };
    this.#clock = options.clock ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    this.#onAttempt = options.onAttempt;
    this.#logger = options.logger ?? consoleLogger;
    this.#breaker = new EndpointBreaker({
      store: this.#store.breakers,
      timeoutMs: this.#timeoutMs,
      ...(options.breakerOpenMs !== undefined && { openMs: options.breakerOpenMs }),
      now: () => this.#clock().getTime(),
    });
  }

  get store(): DynamoWebhookStore {
    return this.#store;
  }

  /**
   * The delivery of an event to its partner's endpoint, created if needed (idempotent: the
   * same event always maps to the same delivery). Undefined when the event is not delivered:
   * the partner has no endpoint, its filter excludes the type, or the event happened before
   * the endpoint existed. An endpoint disabled by a 410 gets a delivery that is failed at
   * once (replayable once the partner PUTs the endpoint again).
   */
  async admit(event: TenantEvent, partnerId: string): Promise<DeliveryRecord | undefined> {
    const { tenantId, sequence } = event.data;
    const existing = await this.#store.getDelivery(tenantId, sequence);
    if (existing) return existing;
    const endpoint = await this.#store.getEndpoint(partnerId);
    if (!endpoint?.events.includes(event.type) || event.timestamp < endpoint.createdAt) return undefined;
    const disabled: ErrorInfo | undefined = endpoint.disabledAt
      ? {
          code: "WEBHOOK_ENDPOINT_DISABLED",
          message: "The endpoint is disabled (it answered 410 Gone); PUT it again.",
        }
      : undefined;
    return this.#store.createDelivery({
      deliveryId: deliveryIdFor(event),
      eventId: event.id,
      partnerId,
      tenantId,
      sequence,
      type: event.type,
      event,
      status: disabled ? "failed" : "pending",
      attempts: 0,
      cycleAttempts: 0,
      replays: 0,
      createdAt: this.#clock().toISOString(),
      attemptLog: [],
      ...(disabled && { error: disabled }),
    });
  }

  /**
   * One attempt of the delivery if it is pending and due. `expectReplays` (from a queued
   * message) makes a message of an earlier round a no-op.
   */
  async attempt(tenantId: string, sequence: number, expectReplays?: number): Promise<AttemptOutcome> {
    const delivery = await this.#store.getDelivery(tenantId, sequence);
    if (delivery?.status !== "pending") return { state: "settled", ...(delivery && { delivery }) };
    if (expectReplays !== undefined && delivery.replays !== expectReplays)
      return { state: "settled", delivery };
    const now = this.#clock();
    if (delivery.nextAttemptAt && Date.parse(delivery.nextAttemptAt) > now.getTime()) {
      return { state: "waiting", until: Date.parse(delivery.nextAttemptAt), delivery };
    }

    const endpoint = await this.#store.getEndpoint(delivery.partnerId);
    if (!endpoint || endpoint.disabledAt) {
      const error: ErrorInfo = endpoint
        ? {
            code: "WEBHOOK_ENDPOINT_DISABLED",
            message: "The endpoint is disabled (it answered 410 Gone); PUT it again.",
          }
        : { code: "WEBHOOK_ENDPOINT_MISSING", message: "The partner has no webhook endpoint any more." };
      return this.#settle(delivery, await this.#store.recordAttempt(delivery, { status: "failed", error }));
    }

    // An endpoint that just timed out is not tried until its breaker's time: a failed attempt at once.
    const verdict = await this.#breaker.check(delivery.partnerId, endpoint.url);
    const result = verdict.send
      ? await this.#signAndSend(delivery, endpoint, now, verdict)
      : { latencyMs: 0, error: verdict.error };
    const attempt: AttemptRecord = {
      at: now.toISOString(),
      latencyMs: result.latencyMs,
      ...(result.responseStatus !== undefined && { responseStatus: result.responseStatus }),
      ...(result.error && { error: result.error }),
    };

    let updated: DeliveryRecord | undefined;
    if (!result.error) {
      updated = await this.#store.recordAttempt(delivery, { attempt, status: "succeeded" });
    } else if (result.responseStatus === 410) {
      await this.#store.disableEndpoint(
        delivery.partnerId,
        endpoint.url,
        "The endpoint answered 410 Gone.",
        this.#clock().toISOString(),
      );
      updated = await this.#store.recordAttempt(delivery, {
        attempt,
        status: "failed",
        error: {
          code: "WEBHOOK_ENDPOINT_GONE",
          message: "The endpoint answered 410 Gone; it is disabled until PUT again.",
        },
      });
    } else {
      const throttled = result.responseStatus === 429 || result.responseStatus === 503;
      const retryAfterMs = throttled
        ? parseRetryAfter(result.retryAfter, this.#clock().getTime())
        : undefined;
      const delay = nextRetryDelay(this.#schedule, delivery.cycleAttempts + 1, {
        random: this.#random,
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      });
      updated = await this.#store.recordAttempt(
        delivery,
        delay === undefined
          ? { attempt, status: "failed", error: result.error }
          : {
              attempt,
              status: "pending",
              nextAttemptAt: new Date(this.#clock().getTime() + delay).toISOString(),
              error: result.error,
            },
      );
    }
    if (updated) this.#notify(updated, attempt);
    return this.#settle(delivery, updated);
  }

  async #signAndSend(
    delivery: DeliveryRecord,
    endpoint: EndpointRecord,
    now: Date,
    verdict: Extract<BreakerVerdict, { send: true }>,
  ): Promise<SendResult> {
    const body = webhookBody(delivery.event);
    const secrets = [await this.#secrets.open(endpoint.secret, endpoint.partnerId)];
    if (
      endpoint.previousSecret &&
      endpoint.previousSecretExpiresAt &&
      Date.parse(endpoint.previousSecretExpiresAt) > now.getTime()
    ) {
      secrets.push(await this.#secrets.open(endpoint.previousSecret, endpoint.partnerId));
    }
    const result = await this.#send(
      endpoint.url,
      signatureHeaders(secrets, delivery.eventId, now, body),
      body,
    );
    try {
      await this.#breaker.after(delivery.partnerId, endpoint.url, verdict, result);
    } catch (err) {
      // The attempt is recorded anyway; the breaker only misses this one.
      this.#logger.warn("webhook breaker not updated", { error: (err as Error).message });
    }
    return result;
  }

  async #send(endpointUrl: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    let url: URL;
    let target: { address: string; family: 4 | 6 };
    try {
      // The policy may be stricter than when the URL was saved (e.g. data moved to AWS).
      url = checkWebhookUrlSyntax(endpointUrl, this.#policy);
      target = await resolveDeliveryAddress(url, this.#policy);
    } catch (err) {
      const latencyMs = Math.round(performance.now() - started);
      if (err instanceof InvalidWebhookUrlError) {
        return { latencyMs, error: { code: "WEBHOOK_ADDRESS_REFUSED", message: err.message } };
      }
      if (err instanceof HostLookupError) {
        return { latencyMs, error: { code: "WEBHOOK_DNS_FAILED", message: err.message } };
      }
      throw err;
    }
    return sendWebhook({
      url,
      address: target.address,
      family: target.family,
      headers,
      body,
      timeoutMs: this.#timeoutMs,
    });
  }

  /** The outcome after a write; a lost race (undefined) is resolved by reading the winner's state. */
  async #settle(before: DeliveryRecord, after: DeliveryRecord | undefined): Promise<AttemptOutcome> {
    const current = after ?? (await this.#store.getDelivery(before.tenantId, before.sequence));
    if (!after)
      this.#logger.warn("webhook delivery changed during an attempt", { deliveryId: before.deliveryId });
    if (current?.status !== "pending") return { state: "settled", ...(current && { delivery: current }) };
    const until = current.nextAttemptAt ? Date.parse(current.nextAttemptAt) : this.#clock().getTime();
    return { state: "waiting", until, delivery: current };
  }

  #notify(delivery: DeliveryRecord, attempt: AttemptRecord): void {
    try {
      this.#onAttempt?.(delivery, attempt);
    } catch (err) {
      this.#logger.error("onAttempt hook failed", { error: (err as Error).message });
    }
  }
}
