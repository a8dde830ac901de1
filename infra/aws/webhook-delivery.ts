import { Duration, Validations } from "aws-cdk-lib";
import { type CfnFunction, FilterCriteria, FilterRule, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq, SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { LambdaFunction } from "./lambda-function.ts";
import { grantTableItems, TABLE_ACCESS } from "./table-access.ts";
import type { TenantTable } from "./tenant-table.ts";

/** Sort-key prefix of event items; only their inserts become webhook deliveries. */
export const EVENT_SORT_KEY_PREFIX = "EVENT#";

export interface WebhookDeliveryProps {
  readonly table: TenantTable;
  /**
   * Receives of one delivery message before it moves to the dead-letter queue. The dispatcher
   * paces retries (Standard Webhooks schedule) by changing the message's visibility, so this
   * must exceed the schedule's attempts. A receive is also counted for every message queued
   * behind a waiting one in the same tenant's group, so this is far above the 8 attempts; the
   * attempt limit itself is enforced on the delivery record.
   * @default 100
   */
  readonly maxReceiveCount?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * At most this many dispatcher instances at once (the SQS event source's maximum
   * concurrency): slow or failing receivers cannot take the account's concurrency.
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Reserved concurrency of the dispatcher (at least `maxConcurrency`); `null` for none.
   * @default 20
   */
  readonly reservedConcurrency?: number | null;
}

/**
 * Webhook delivery: the table's stream -> stream forwarder (event inserts only) -> SQS FIFO
 * queue, one message group per tenant so that a tenant's events go out in `sequence` order ->
 * dispatcher, which signs and POSTs them. Messages that keep failing land in a FIFO
 * dead-letter queue; stream batches the forwarder cannot enqueue land in a failure queue.
 */
export class WebhookDelivery extends Construct {
  /** FIFO queue of deliveries; MessageGroupId = tenantId, MessageDeduplicationId = event id. */
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /** Stream records the forwarder could not enqueue after its retries (their shard and sequence numbers). */
  readonly streamFailureQueue: Queue;
  readonly dispatcher: LambdaFunction;
  readonly streamForwarder: LambdaFunction;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    const { logRetention } = props;
    const dispatcherTimeout = Duration.seconds(60);

    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, "Queue", {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // AWS's advice for Lambda consumers: six times the function timeout.
      visibilityTimeout: Duration.seconds(dispatcherTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 100 },
    });
    this.streamFailureQueue = new Queue(this, "StreamFailureQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    for (const dlq of [this.deadLetterQueue, this.streamFailureQueue]) {
      Validations.of(dlq).acknowledge({
        id: "AwsSolutions-SQS3",
        reason: "This queue is itself a dead-letter destination; an alarm fires on its first message.",
      });
    }

    this.dispatcher = new LambdaFunction(this, "Dispatcher", {
      entry: "functions/webhooks/dispatcher.ts",
      description: "Signs and POSTs webhook deliveries (Standard Webhooks), retries with backoff",
      timeout: dispatcherTimeout,
      logRetention,
      environment: { WEBHOOK_QUEUE_URL: this.queue.queueUrl },
    });
    grantTableItems(this.dispatcher, props.table.table, TABLE_ACCESS.dispatcher);
    // The order gate puts an event that came before its predecessor back behind its group.
    this.queue.grantSendMessages(this.dispatcher);
    const reserved = props.reservedConcurrency === undefined ? 20 : props.reservedConcurrency;
    if (reserved !== null) {
      (this.dispatcher.node.defaultChild as CfnFunction).reservedConcurrentExecutions = reserved;
    }
    this.dispatcher.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 10,
      }),
    );

    this.streamForwarder = new LambdaFunction(this, "StreamForwarder", {
      entry: "functions/webhooks/stream-forwarder.ts",
      description: "Turns new event items of the table's stream into webhook delivery messages",
      logRetention,
      environment: { WEBHOOK_QUEUE_URL: this.queue.queueUrl },
    });
    // It writes out tenants' outboxes (events a task committed but could not write as items).
    grantTableItems(this.streamForwarder, props.table.table, TABLE_ACCESS.streamForwarder);
    this.queue.grantSendMessages(this.streamForwarder);
    this.streamForwarder.addEventSource(
      new DynamoEventSource(props.table.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        onFailure: new SqsDlq(this.streamFailureQueue),
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.isEqual("INSERT"),
            dynamodb: {
              Keys: { [props.table.sortKey]: { S: FilterRule.beginsWith(EVENT_SORT_KEY_PREFIX) } },
            },
          }),
          // Tenant items: the function flushes an outbox still holding entries.
          FilterCriteria.filter({
            dynamodb: { Keys: { [props.table.sortKey]: { S: FilterRule.isEqual("TENANT") } } },
          }),
        ],
      }),
    );
  }
}
