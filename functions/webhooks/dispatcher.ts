/**
 * Lambda: the delivery queue (SQS FIFO, group = tenant) -> partners' endpoints.
 *
 * For each message: create the delivery from the event if needed, make one attempt when due.
 * A delivery still pending afterwards (failed attempt with retries left) keeps its message:
 * the message is made invisible until the next attempt is due (ChangeMessageVisibility) and
 * reported as a batch item failure, so SQS holds the tenant's message group, and with it the
 * tenant's later events, until then. Settled deliveries (succeeded, failed after the schedule,
 * gone) let their message be deleted. The tenant's later messages of the same batch are
 * handed back (visible at once: SQS still holds the group behind the waiting one).
 *
 * The queue may hold a registration's events out of order (see order-gate.ts): an event goes
 * out only once its predecessor is decided; one that came first waits at the head of its
 * group for a moment, or is put back behind its group.
 *
 * Env: TABLE_NAME, WEBHOOK_QUEUE_URL, optional WEBHOOK_RETRY_SCHEDULE and WEBHOOK_TIMEOUT_MS.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createDocumentClient } from "../adapters/dynamodb/client.ts";
import { type DispatchOrder, DynamoDispatchOrder } from "../adapters/dynamodb/dispatch-order.ts";
import { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import { requireEnv } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger, METRIC, MetricUnit, metrics } from "../commons/observability.ts";
import { type AttemptOutcome, WebhookDeliverer, type WebhookLogger } from "./delivery.ts";
import { type GateDecision, markDecided, orderGate } from "./order-gate.ts";
import { secretBoxFromEnv } from "./secret-box.ts";
import { DEFAULT_TIMEOUT_MS } from "./sender.ts";
import { type DeliveryMessage, parseDeliveryMessage, SqsDeliveryQueue } from "./sqs-queue.ts";
import { ownPortsFromEnv } from "./url-policy.ts";

/** Invisibility after the dispatcher's own failure (DynamoDB unreachable...). */
const ERROR_RETRY_SECONDS = 30;
/** Margin kept below the function's deadline besides one attempt's timeout. */
const DEADLINE_MARGIN_MS = 5_000;

export interface DispatcherDeps {
  deliverer: WebhookDeliverer;
  queue: Pick<SqsDeliveryQueue, "changeVisibility" | "send">;
  /**
   * The order gate: a registration's events go out in sequence order whatever order the queue
   * has them in (order-gate.ts). @default none: in queue order
   */
  order?: DispatchOrder;
  /** Whether an event's delivery is pending (the gate waits for a predecessor being retried). */
  pending?: (tenantId: string, sequence: number) => Promise<boolean>;
  /** Per attempt, to decide whether one more fits before the deadline. @default 15000 */
  attemptTimeoutMs?: number;
  /** @default () => Date.now() */
  now?: () => number;
  logger?: WebhookLogger;
}

/** The handler, with its parts injected. */
export function createDispatcher(deps: DispatcherDeps) {
  const log = deps.logger ?? logger;
  const now = deps.now ?? Date.now;
  const attemptTimeoutMs = deps.attemptTimeoutMs ?? DEFAULT_TIMEOUT_MS;

  return async (
    event: SQSEvent,
    context?: Pick<Context, "getRemainingTimeInMillis">,
  ): Promise<SQSBatchResponse> => {
    const failures: string[] = [];
    const visibility: { receiptHandle: string; seconds: number }[] = [];
    const groups = Map.groupBy(event.Records, (r) => r.attributes.MessageGroupId ?? r.messageId);

    const requeued: { record: SQSRecord; message: DeliveryMessage }[] = [];
    await Promise.all(
      [...groups.values()].map(async (records) => {
        let blocked = false;
        for (const [index, record] of records.entries()) {
          const outOfTime =
            context !== undefined &&
            context.getRemainingTimeInMillis() < attemptTimeoutMs + DEADLINE_MARGIN_MS;
          if (blocked || outOfTime) {
            // Back to the queue, in order: SQS gives the group's messages out again from the oldest.
            failures.push(record.messageId);
            visibility.push({ receiptHandle: record.receiptHandle, seconds: 0 });
            blocked = true;
            continue;
          }
          try {
            const gate = await gateOf(record, index < records.length - 1);
            if (gate.kind === "hold") {
              failures.push(record.messageId);
              visibility.push({ receiptHandle: record.receiptHandle, seconds: gate.seconds });
              blocked = true;
              continue;
            }
            if (gate.kind === "requeue") {
              requeued.push({ record, message: gate.message });
              continue;
            }
            const outcome = await handle(record);
            const message = parseDeliveryMessage(record.body);
            if (message && outcome?.state !== "waiting") await markDecided(deps.order, message);
            if (outcome?.state === "waiting") {
              failures.push(record.messageId);
              visibility.push({
                receiptHandle: record.receiptHandle,
                seconds: (outcome.until - now()) / 1000,
              });
              blocked = true;
            }
          } catch (err) {
            log.error("webhook dispatch failed; the message comes back", {
              messageId: record.messageId,
              error: (err as Error).message,
            });
            failures.push(record.messageId);
            visibility.push({ receiptHandle: record.receiptHandle, seconds: ERROR_RETRY_SECONDS });
            blocked = true;
          }
        }
      }),
    );

    // Put back behind their groups; a message SQS would not take stays (visible again soon).
    const unsent = new Set(await deps.queue.send(requeued.map((r) => r.message)));
    for (const { record, message } of requeued) {
      if (!unsent.has(message)) continue;
      failures.push(record.messageId);
      visibility.push({ receiptHandle: record.receiptHandle, seconds: ERROR_RETRY_SECONDS });
    }
    const notChanged = await deps.queue.changeVisibility(visibility);
    if (notChanged > 0) log.warn("could not change the visibility of some messages", { count: notChanged });
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };

  /** The order gate's decision on a record (`moreBehind`: later records of its group follow in this batch). */
  async function gateOf(record: SQSRecord, moreBehind: boolean): Promise<GateDecision> {
    const message = parseDeliveryMessage(record.body);
    if (!message) return { kind: "go" };
    const gate = await orderGate({
      message,
      order: deps.order,
      now: now(),
      receivedBefore: Number(record.attributes.ApproximateReceiveCount ?? 1) > 1,
      moreBehind,
      firstReceivedAt: Number(record.attributes.ApproximateFirstReceiveTimestamp) || now(),
      predecessorPending: async () => (await deps.pending?.(message.tenantId, message.sequence - 1)) ?? false,
    });
    if (gate.kind === "go" && gate.late) {
      log.error("webhook event sent without its predecessor, which never arrived", {
        tenantId: message.tenantId,
        sequence: message.sequence,
      });
    }
    return gate;
  }

  async function handle(record: SQSRecord): Promise<AttemptOutcome | undefined> {
    const message = parseDeliveryMessage(record.body);
    if (!message) {
      // Retrying cannot fix it; the delivery (if any) stays replayable.
      log.error("not a delivery message; dropped", { messageId: record.messageId });
      return undefined;
    }
    if (message.event) {
      const delivery = await deps.deliverer.admit(message.event, message.partnerId);
      if (!delivery) return undefined;
    }
    return deps.deliverer.attempt(message.tenantId, message.sequence, message.replays ?? 0);
  }
}

let dispatch: ReturnType<typeof createDispatcher> | undefined;

/** Lambda entry point (clients built once per cold start). */
export const handler = instrument(
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    dispatch ??= dispatcherFromEnv();
    return dispatch(event, context);
  },
  { metrics: true },
);

function dispatcherFromEnv(): ReturnType<typeof createDispatcher> {
  const client = createDocumentClient();
  const tableName = requireEnv("TABLE_NAME");
  const webhookStore = new DynamoWebhookStore({ client, tableName });
  // The service's own ports on this machine (none in a deployment): read once per container.
  const ownPorts = ownPortsFromEnv();
  return createDispatcher({
    order: new DynamoDispatchOrder({ client, table: tableName }),
    pending: async (tenantId, sequence) =>
      (await webhookStore.getDelivery(tenantId, sequence))?.status === "pending",
    deliverer: new WebhookDeliverer({
      webhookStore,
      // The only code that may decrypt endpoint secrets (kms:Decrypt is granted to this function only).
      secrets: secretBoxFromEnv(),
      // Never set by the stack: the AWS form run on one machine (`npm run start:aws`) passes them.
      allowInsecureLoopback: process.env["WEBHOOK_ALLOW_LOOPBACK"] === "true",
      refusedLoopbackPorts: () => ownPorts,
      onAttempt: (delivery) => {
        if (delivery.status === "succeeded") metrics.addMetric(METRIC.webhookDelivered, MetricUnit.Count, 1);
        if (delivery.status === "failed") metrics.addMetric(METRIC.webhookFailed, MetricUnit.Count, 1);
      },
    }),
    queue: new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl: requireEnv("WEBHOOK_QUEUE_URL") }),
  });
}
