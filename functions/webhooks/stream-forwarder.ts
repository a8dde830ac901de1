/**
 * Lambda: the table's stream -> the delivery queue. Each new event item (INSERT of an
 * `EVENT#` item; the event source mapping filters on it too) becomes one message in the FIFO
 * queue, group = tenantId:partnerId, deduplication id = event id. Records it could not enqueue are
 * reported as batch item failures: Lambda retries from the first of them (and SQS drops the
 * copies of those sent already), then hands the stream batch to the failure queue.
 *
 * Tenant items are on the stream too: one whose new image still holds outbox entries gets its
 * outbox flushed here (idempotent), so an event whose item a task could not write (the task's
 * own flush failed, or its Lambda died right after the state change) is written all the same,
 * and its INSERT comes back through this function. Nothing committed to the outbox is lost.
 *
 * Env: WEBHOOK_QUEUE_URL, TABLE_NAME.
 */

import { SQSClient } from "@aws-sdk/client-sqs";
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { requireEnv, tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger } from "../commons/observability.ts";
import type { ErrorInfo } from "../domain/errors.ts";
import {
  EVENT_TYPES,
  type EventType,
  RUN_STEP_NAMES,
  type RunStepName,
  TENANT_STATUSES,
  type TenantEvent,
  type TenantStatus,
} from "../domain/tenant.ts";

import type { WebhookLogger } from "./delivery.ts";
import { type DeliveryMessage, eventMessage, SqsDeliveryQueue } from "./sqs-queue.ts";

const EVENT_SK_PREFIX = "EVENT#";

/** The delivery message of an event item's stream record; undefined for any other record. */
export function messageOfRecord(record: DynamoDBRecord): DeliveryMessage | undefined {
  if (record.eventName !== "INSERT") return undefined;
  const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
  if (!image?.["sk"]?.S?.startsWith(EVENT_SK_PREFIX)) return undefined;
  const data = image["data"]?.M;
  const id = image["id"]?.S;
  const partnerId = image["partnerId"]?.S;
  const type = image["type"]?.S as EventType | undefined;
  const timestamp = image["timestamp"]?.S;
  const tenantId = data?.["tenantId"]?.S;
  const status = data?.["status"]?.S as TenantStatus | undefined;
  const sequence = Number(data?.["sequence"]?.N);
  if (!id || !partnerId || !type || !timestamp || !tenantId || !status || !Number.isInteger(sequence))
    return undefined;
  if (!(EVENT_TYPES as readonly string[]).includes(type) || !TENANT_STATUSES.includes(status))
    return undefined;
  const step = data?.["step"]?.S as RunStepName | undefined;
  const error = data?.["error"]?.M;
  const errorInfo: ErrorInfo | undefined =
    error?.["code"]?.S !== undefined
      ? { code: error["code"].S, message: error["message"]?.S ?? "" }
      : undefined;
  const event: TenantEvent = {
    id,
    type,
    timestamp,
    data: {
      tenantId,
      status,
      sequence,
      ...(step !== undefined && RUN_STEP_NAMES.includes(step) && { step }),
      ...(errorInfo && { error: errorInfo }),
    },
  };
  // What the partner's sequence counts from (functions/domain/partner-sequence.ts).
  const offset = Number(image["sequenceOffset"]?.N);
  if (Number.isInteger(offset) && offset > 0 && offset < sequence) event.sequenceOffset = offset;
  // The registration's first sequence: the dispatcher keeps the registration's events in order.
  const first = Number(image["firstSequence"]?.N);
  return {
    ...eventMessage(event, partnerId),
    ...(Number.isInteger(first) && first <= sequence && { first }),
  };
}

export interface StreamForwarderDeps {
  queue: Pick<SqsDeliveryQueue, "send">;
  /** Writes a tenant's pending outbox entries as event items (the store's `flushOutbox`). */
  flushOutbox?: (tenantId: string) => Promise<void>;
  logger?: WebhookLogger;
}

/** The tenant id of a tenant item's record whose new image holds outbox entries. */
export function tenantWithPendingOutbox(record: DynamoDBRecord): string | undefined {
  const image = record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
  if (image?.["sk"]?.S !== "TENANT" || !image["outbox"]?.L?.length) return undefined;
  return image["tenantId"]?.S;
}

/** The handler, with its queue injected. */
export function createStreamForwarder(deps: StreamForwarderDeps) {
  const log = deps.logger ?? logger;
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const pairs: { record: DynamoDBRecord; message: DeliveryMessage }[] = [];
    const flushFailures: string[] = [];
    const flushed = new Set<string>();
    for (const record of event.Records) {
      const pending = tenantWithPendingOutbox(record);
      if (pending !== undefined) {
        if (deps.flushOutbox && !flushed.has(pending)) {
          flushed.add(pending);
          await deps.flushOutbox(pending).catch((err: unknown) => {
            log.warn("outbox flush failed; the stream retries it", { tenantId: pending, error: String(err) });
            flushFailures.push(record.dynamodb?.SequenceNumber ?? "");
          });
        }
        continue;
      }
      const message = messageOfRecord(record);
      if (message) pairs.push({ record, message });
      else if (
        record.eventName === "INSERT" &&
        record.dynamodb?.Keys?.["sk"]?.S?.startsWith(EVENT_SK_PREFIX)
      ) {
        // An event item this code cannot read: a bug to see, not a batch to block.
        log.error("unreadable event item in the stream; skipped", {
          sequenceNumber: record.dynamodb?.SequenceNumber,
        });
      }
    }
    const unsent = new Set(await deps.queue.send(pairs.map((p) => p.message)));
    const batchItemFailures = [
      ...flushFailures.map((itemIdentifier) => ({ itemIdentifier })),
      ...pairs
        .filter((p) => unsent.has(p.message))
        .map((p) => ({ itemIdentifier: p.record.dynamodb?.SequenceNumber ?? "" })),
    ];
    if (batchItemFailures.length > 0)
      log.warn("some events could not be queued; retrying", { count: batchItemFailures.length });
    return { batchItemFailures };
  };
}

let forward: ReturnType<typeof createStreamForwarder> | undefined;

/** Lambda entry point (clients built once per cold start). */
export const handler = instrument(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  if (!forward) {
    const store = tenantStore();
    forward = createStreamForwarder({
      queue: new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl: requireEnv("WEBHOOK_QUEUE_URL") }),
      flushOutbox: (tenantId) => store.flushOutbox(tenantId),
    });
  }
  return forward(event);
});
