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
 * Env: TABLE_NAME, WEBHOOK_QUEUE_URL, optional WEBHOOK_RETRY_SCHEDULE and WEBHOOK_TIMEOUT_MS.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createDocumentClient } from "../adapters/dynamodb/client.ts";
import { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import { requireEnv } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger, METRIC, MetricUnit, metrics } from "../commons/observability.ts";
import { type AttemptOutcome, WebhookDeliverer, type WebhookLogger } from "./delivery.ts";
import { secretBoxFromEnv } from "./secret-box.ts";
import { DEFAULT_TIMEOUT_MS } from "./sender.ts";
import { parseDeliveryMessage, SqsDeliveryQueue } from "./sqs-queue.ts";

/** Invisibility after the dispatcher's own failure (DynamoDB unreachable...). */
const ERROR_RETRY_SECONDS = 30;
/** Margin kept below the function's deadline besides one attempt's timeout. */
const DEADLINE_MARGIN_MS = 5_000;

export interface DispatcherDeps {
  deliverer: WebhookDeliverer;
  queue: Pick<SqsDeliveryQueue, "changeVisibility">;
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

    await Promise.all(
      [...groups.values()].map(async (records) => {
        let blocked = false;
        for (const record of records) {
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
            const outcome = await handle(record);
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

    const notChanged = await deps.queue.changeVisibility(visibility);
    if (notChanged > 0) log.warn("could not change the visibility of some messages", { count: notChanged });
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };

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
    dispatch ??= createDispatcher({
      deliverer: new WebhookDeliverer({
        webhookStore: new DynamoWebhookStore({
          client: createDocumentClient(),
          tableName: requireEnv("TABLE_NAME"),
        }),
        // The only code that may decrypt endpoint secrets (kms:Decrypt is granted to this function only).
        secrets: secretBoxFromEnv(),
        // Never set by the stack: the AWS form run on one machine (`npm run start:aws`) passes it.
        allowInsecureLoopback: process.env["WEBHOOK_ALLOW_LOOPBACK"] === "true",
        onAttempt: (delivery) => {
          if (delivery.status === "succeeded")
            metrics.addMetric(METRIC.webhookDelivered, MetricUnit.Count, 1);
          if (delivery.status === "failed") metrics.addMetric(METRIC.webhookFailed, MetricUnit.Count, 1);
        },
      }),
      queue: new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl: requireEnv("WEBHOOK_QUEUE_URL") }),
    });
    return dispatch(event, context);
  },
  { metrics: true },
);
