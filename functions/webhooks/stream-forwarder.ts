/**
 * Lambda: the table's stream -> the delivery queue. Each new event item (INSERT of an
 * `EVENT#` item; the event source mapping filters on it too) becomes one message in the FIFO
 * queue, group = tenantId, deduplication id = event id. Records it could not enqueue are
 * reported as batch item failures: Lambda retries from the first of them (and SQS drops the
 * copies of those sent already), then hands the stream batch to the failure queue.
 *
 * Env: WEBHOOK_QUEUE_URL.
 */

import { SQSClient } from "@aws-sdk/client-sqs";
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { instrument } from "../commons/instrument.ts";
import { logger } from "../commons/observability.ts";
import type { ErrorInfo } from "../domain/errors.ts";
import {
  EVENT_TYPES,
  type EventType,
  STEP_NAMES,
  type StepName,
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
  if (!EVENT_TYPES.includes(type) || !TENANT_STATUSES.includes(status)) return undefined;
  const step = data?.["step"]?.S as StepName | undefined;
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
      ...(step !== undefined && STEP_NAMES.includes(step) && { step }),
      ...(errorInfo && { error: errorInfo }),
    },
  };
  return eventMessage(event, partnerId);
}

export interface StreamForwarderDeps {
  queue: Pick<SqsDeliveryQueue, "send">;
  logger?: WebhookLogger;
}

/** The handler, with its queue injected. */
export function createStreamForwarder(deps: StreamForwarderDeps) {
  const log = deps.logger ?? logger;
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const pairs: { record: DynamoDBRecord; message: DeliveryMessage }[] = [];
    for (const record of event.Records) {
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
    const batchItemFailures = pairs
      .filter((p) => unsent.has(p.message))
      .map((p) => ({ itemIdentifier: p.record.dynamodb?.SequenceNumber ?? "" }));
    if (batchItemFailures.length > 0)
      log.warn("some events could not be queued; retrying", { count: batchItemFailures.length });
    return { batchItemFailures };
  };
}

let forward: ReturnType<typeof createStreamForwarder> | undefined;

/** Lambda entry point (clients built once per cold start). */
export const handler = instrument(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  forward ??= createStreamForwarder({
    queue: new SqsDeliveryQueue({ client: new SQSClient({}), queueUrl: requiredEnv("WEBHOOK_QUEUE_URL") }),
  });
  return forward(event);
});

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
