/**
 * The AWS delivery queue: an SQS FIFO queue with one message group per tenant and partner
 * (`messageGroupOf`), so that SQS hands a tenant's deliveries to the dispatcher one at a time,
 * in `sequence` order, while other tenants (and a tenant's previous owner) flow in parallel.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { DeliveryRecord } from "../adapters/dynamodb/webhook-store.ts";
import type { TenantEvent } from "../domain/tenant.ts";
import type { ReplayQueue } from "./service.ts";

/** The body of a delivery message. */
export interface DeliveryMessage {
  tenantId: string;
  sequence: number;
  eventId: string;
  partnerId: string;
  /** The event, on the first message (the delivery may not exist yet). */
  event?: TenantEvent;
  /** The delivery's replay round this message is for; a message of an earlier round is stale. @default 0 */
  replays?: number;
  /**
   * The first sequence of the event's registration (from the event item): the dispatcher sends
   * `sequence` only once `sequence - 1` is decided, unless it is this one. Absent: no order gate
   * (an event written before the gate existed).
   */
  first?: number;
  /** How often the dispatcher put the message back behind its group to wait for its predecessor. */
  deferrals?: number;
  /** When it started waiting for its predecessor (ISO time). */
  waitingSince?: string;
}

const SEND_BATCH_MAX = 10;

/**
 * One FIFO message group per tenant AND partner: after a change of owner, the previous
 * partner's retries and replays (to its own endpoint) never hold back the new owner's
 * deliveries. Within a partner, a tenant's deliveries stay in sequence order.
 */
export const messageGroupOf = (m: Pick<DeliveryMessage, "tenantId" | "partnerId">) =>
  `${m.tenantId}:${m.partnerId}`;

export function eventMessage(event: TenantEvent, partnerId: string): DeliveryMessage {
  return {
    tenantId: event.data.tenantId,
    sequence: event.data.sequence,
    eventId: event.id,
    partnerId,
    event,
  };
}

/** Same event, same round: SQS drops the copy within its 5-minute deduplication window. */
export const deduplicationIdOf = (m: DeliveryMessage) =>
  `${m.replays ? `${m.eventId}:r${m.replays}` : m.eventId}${m.deferrals ? `:d${m.deferrals}` : ""}`;

/** Parses a message body; undefined for anything that is not a delivery message. */
export function parseDeliveryMessage(body: string): DeliveryMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const m = value as Partial<DeliveryMessage> | null;
  if (
    typeof m !== "object" ||
    m === null ||
    typeof m.tenantId !== "string" ||
    !Number.isInteger(m.sequence) ||
    typeof m.eventId !== "string" ||
    typeof m.partnerId !== "string" ||
    (m.replays !== undefined && !Number.isInteger(m.replays)) ||
    (m.first !== undefined && !Number.isInteger(m.first)) ||
    (m.deferrals !== undefined && !Number.isInteger(m.deferrals)) ||
    (m.waitingSince !== undefined && Number.isNaN(Date.parse(String(m.waitingSince))))
  ) {
    return undefined;
  }
  return m as DeliveryMessage;
}

export interface SqsDeliveryQueueOptions {
  client: SQSClient;
  queueUrl: string;
}

/**
 * Sends delivery messages and controls their visibility.
 *
 * @example
 * const queue = new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl: process.env.WEBHOOK_QUEUE_URL! });
 * await queue.send([eventMessage(event, partnerId)]);
 */
export class SqsDeliveryQueue implements ReplayQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: SqsDeliveryQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  /**
   * Sends messages, keeping each tenant's order: a batch call carries at most one message per
   * tenant, and once a tenant's message fails none of its later ones is sent (a later one in
   * the queue before an earlier one would be delivered first). Returns the messages not sent.
   */
  async send(messages: readonly DeliveryMessage[]): Promise<DeliveryMessage[]> {
    const byTenant = Map.groupBy(messages, messageGroupOf);
    const unsent = new Set<DeliveryMessage>();
    for (let round = 0; ; round++) {
      const batch: DeliveryMessage[] = [];
      for (const group of byTenant.values()) {
        const message = group[round];
        if (!message) continue;
        if (group.slice(0, round).some((m) => unsent.has(m))) unsent.add(message);
        else batch.push(message);
      }
      if (batch.length === 0 && [...byTenant.values()].every((g) => g.length <= round)) break;
      for (let i = 0; i < batch.length; i += SEND_BATCH_MAX) {
        const chunk = batch.slice(i, i + SEND_BATCH_MAX);
        const entries: SendMessageBatchRequestEntry[] = chunk.map((m, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(m),
          MessageGroupId: messageGroupOf(m),
          MessageDeduplicationId: deduplicationIdOf(m),
        }));
        try {
          const result = await this.#client.send(
            new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
          );
          for (const failed of result.Failed ?? []) unsent.add(chunk[Number(failed.Id)]!);
        } catch {
          for (const m of chunk) unsent.add(m);
        }
      }
    }
    return messages.filter((m) => unsent.has(m));
  }

  /** Queues a reopened delivery behind the tenant's pending ones; throws when SQS refused it. */
  async queueReplay(delivery: DeliveryRecord): Promise<void> {
    const message: DeliveryMessage = {
      tenantId: delivery.tenantId,
      sequence: delivery.sequence,
      eventId: delivery.eventId,
      partnerId: delivery.partnerId,
      replays: delivery.replays,
    };
    const unsent = await this.send([message]);
    if (unsent.length > 0) throw new Error(`the replay of ${delivery.deliveryId} could not be queued`);
  }

  /** Sets the visibility timeout of received messages (seconds, 0 to 43200); best effort. */
  async changeVisibility(entries: readonly { receiptHandle: string; seconds: number }[]): Promise<number> {
    let failed = 0;
    for (let i = 0; i < entries.length; i += SEND_BATCH_MAX) {
      const chunk = entries.slice(i, i + SEND_BATCH_MAX);
      try {
        const result = await this.#client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: chunk.map((e, index) => ({
              Id: String(index),
              ReceiptHandle: e.receiptHandle,
              VisibilityTimeout: Math.min(43_200, Math.max(0, Math.ceil(e.seconds))),
            })),
          }),
        );
        failed += result.Failed?.length ?? 0;
      } catch {
        failed += chunk.length;
      }
    }
    return failed;
  }
}
