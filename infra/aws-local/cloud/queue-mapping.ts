/**
 * The SQS event source mapping (AWS::Lambda::EventSourceMapping on a queue): polls the queue,
 * invokes the function with batches of up to BatchSize records, at most
 * ScalingConfig.MaximumConcurrency batches at a time. Messages of a batch that succeeded are
 * deleted, except those named in `batchItemFailures` (ReportBatchItemFailures); after a
 * function error none is, and they come back when their visibility timeout ends. A throttled
 * invocation is retried until then.
 */
import type { Invoke } from "../contracts.ts";
import { attributesOf, type SqsStandIn } from "./sqs.ts";

export interface QueueMappingOptions {
  sqs: SqsStandIn;
  invoke: Invoke;
  functionRef: string;
  queueArn: string;
  batchSize: number;
  maxConcurrency: number;
  reportBatchItemFailures: boolean;
  log: (line: string) => void;
}

export function startQueueMapping(o: QueueMappingOptions): { close(): Promise<void> } {
  const queue = o.sqs.queue(o.queueArn);
  if (!queue) throw new Error(`event source mapping: no queue ${o.queueArn}`);
  let running = true;
  const inflight = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  const runBatch = async (messages: ReturnType<SqsStandIn["receive"]>) => {
    const event = {
      Records: messages.map((m) => ({
        messageId: m.id,
        receiptHandle: m.receipt,
        body: m.body,
        attributes: attributesOf(m),
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: queue.arn,
        awsRegion: queue.arn.split(":")[3],
      })),
    };
    const deadline = Math.min(...messages.map((m) => m.visibleAt));
    for (let attempt = 0; running; attempt++) {
      const result = await o.invoke(o.functionRef, event);
      if (!result.ok && result.refused && Date.now() + 1000 < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        continue;
      }
      if (!result.ok) {
        o.log(
          `${o.functionRef} failed on a batch of ${messages.length}: ${result.errorType}: ${result.errorMessage}`,
        );
        return;
      }
      const failures = new Set(
        o.reportBatchItemFailures
          ? (
              (result.payload as { batchItemFailures?: { itemIdentifier: string }[] } | null)
                ?.batchItemFailures ?? []
            ).map((f) => f.itemIdentifier)
          : [],
      );
      for (const m of messages) if (!failures.has(m.id) && m.receipt) o.sqs.delete(queue, m.receipt);
      return;
    }
  };

  const loop = async () => {
    while (running) {
      if (inflight.size >= o.maxConcurrency) {
        await Promise.race(inflight);
        continue;
      }
      const messages = o.sqs.receive(queue, o.batchSize);
      if (messages.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
        continue;
      }
      const p = runBatch(messages).finally(() => inflight.delete(p));
      inflight.add(p);
    }
  };
  const done = loop();
  return {
    close: async () => {
      running = false;
      wake?.();
      await done;
      await Promise.allSettled(inflight);
    },
  };
}
