/**
 * SQS here: a STAND-IN (no maintained emulator serves FIFO message groups, deduplication,
 * visibility and redrive as AWS does), small and strict: the template's queues with their
 * settings (FifoQueue, ContentBasedDeduplication, VisibilityTimeout, MessageRetentionPeriod,
 * RedrivePolicy), the JSON protocol calls the functions make, and receive/delete for the event
 * source mapping. FIFO: a message group with a message in flight hands out nothing more; a
 * deduplication id is remembered 5 minutes; a message received maxReceiveCount times moves to
 * the dead-letter queue when it would be received again. State is kept in DATA_DIR.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsResponse, awsJsonError } from "../contracts.ts";
import type { Assembly } from "../template.ts";

export interface QueueMessage {
  id: string;
  body: string;
  groupId?: string;
  dedupId?: string;
  sequence: string;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  receipt?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  fifo: boolean;
  contentDedup: boolean;
  visibilitySeconds: number;
  retentionSeconds: number;
  redrive?: { deadLetterTargetArn: string; maxReceiveCount: number };
  messages: QueueMessage[];
  dedup: Record<string, number>;
}

const DEDUP_WINDOW_MS = 5 * 60_000;
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

export class SqsStandIn {
  readonly #queues = new Map<string, Queue>();
  readonly #dir: string;
  #sequence = 0;

  constructor(assembly: Assembly, dataDir: string) {
    this.#dir = join(dataDir, "sqs");
    mkdirSync(this.#dir, { recursive: true });
    for (const [id, resource] of assembly.ofType("AWS::SQS::Queue")) {
      const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
      const queue: Queue = {
        name: assembly.getAtt(id, "QueueName"),
        url: assembly.ref(id),
        arn: assembly.getAtt(id, "Arn"),
        fifo: p["FifoQueue"] === true,
        contentDedup: p["ContentBasedDeduplication"] === true,
        visibilitySeconds: Number(p["VisibilityTimeout"] ?? 30),
        retentionSeconds: Number(p["MessageRetentionPeriod"] ?? 345_600),
        ...(p["RedrivePolicy"] ? { redrive: p["RedrivePolicy"] as Queue["redrive"] & object } : {}),
        messages: [],
        dedup: {},
      };
      try {
        const saved = JSON.parse(readFileSync(this.#file(queue), "utf8")) as Pick<
          Queue,
          "messages" | "dedup"
        >;
        queue.messages = saved.messages;
        queue.dedup = saved.dedup;
      } catch {
        // a new queue
      }
      for (const m of queue.messages) this.#sequence = Math.max(this.#sequence, Number(m.sequence));
      this.#queues.set(queue.arn, queue);
    }
  }

  #file(queue: Queue) {
    return join(this.#dir, `${queue.name}.json`);
  }

  #save(queue: Queue) {
    const file = this.#file(queue);
    writeFileSync(`${file}.tmp`, JSON.stringify({ messages: queue.messages, dedup: queue.dedup }));
    renameSync(`${file}.tmp`, file);
  }

  queue(ref: string): Queue | undefined {
    return (
      this.#queues.get(ref) ??
      [...this.#queues.values()].find((q) => q.url === ref || q.name === ref || ref.endsWith(`/${q.name}`))
    );
  }

  send(queue: Queue, entry: { body: string; groupId?: string; dedupId?: string; delaySeconds?: number }) {
    if (queue.fifo && !entry.groupId)
      throw sqsError("MissingParameter", "The request must contain the parameter MessageGroupId.");
    const dedupId =
      entry.dedupId ??
      (queue.contentDedup ? createHash("sha256").update(entry.body).digest("hex") : undefined);
    if (queue.fifo && !dedupId) {
      throw sqsError(
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
      );
    }
    const now = Date.now();
    for (const [id, until] of Object.entries(queue.dedup)) if (until < now) delete queue.dedup[id];
    const sequence = String(++this.#sequence).padStart(20, "0");
    if (queue.fifo && dedupId && queue.dedup[dedupId])
      return { id: randomUUID(), sequence, md5: md5(entry.body) };
    if (queue.fifo && dedupId) queue.dedup[dedupId] = now + DEDUP_WINDOW_MS;
    const message: QueueMessage = {
      id: randomUUID(),
      body: entry.body,
      sequence,
      sentAt: now,
      visibleAt: now + (queue.fifo ? 0 : (entry.delaySeconds ?? 0) * 1000),
      receiveCount: 0,
      ...(entry.groupId ? { groupId: entry.groupId } : {}),
      ...(dedupId ? { dedupId } : {}),
    };
    queue.messages.push(message);
    this.#save(queue);
    return { id: message.id, sequence, md5: md5(entry.body) };
  }

  /** Receives up to `max` visible messages (FIFO: in order, none of a group with one in flight). */
  receive(queue: Queue, max: number, visibilitySeconds = queue.visibilitySeconds): QueueMessage[] {
    const now = Date.now();
    queue.messages = queue.messages.filter((m) => now - m.sentAt < queue.retentionSeconds * 1000);
    const blocked = new Set<string>();
    const out: QueueMessage[] = [];
    let moved = false;
    for (const m of [...queue.messages]) {
      if (out.length >= max) break;
      const group = m.groupId ?? "";
      if (queue.fifo && blocked.has(group)) continue;
      if (m.visibleAt > now) {
        if (queue.fifo) blocked.add(group);
        continue;
      }
      if (queue.redrive && m.receiveCount >= queue.redrive.maxReceiveCount) {
        this.#moveToDeadLetter(queue, m);
        moved = true;
        continue;
      }
      m.receiveCount++;
      m.firstReceivedAt ??= now;
      m.visibleAt = now + visibilitySeconds * 1000;
      m.receipt = `${m.id}:${randomUUID()}`;
      out.push(m);
    }
    if (out.length > 0 || moved) this.#save(queue);
    return out;
  }

  #moveToDeadLetter(queue: Queue, m: QueueMessage) {
    queue.messages = queue.messages.filter((x) => x !== m);
    const dlq = this.queue(queue.redrive!.deadLetterTargetArn);
    if (!dlq) return;
    dlq.messages.push({ ...m, visibleAt: Date.now(), receiveCount: 0 });
    this.#save(dlq);
  }

  delete(queue: Queue, receipt: string): boolean {
    const before = queue.messages.length;
    queue.messages = queue.messages.filter((m) => m.receipt !== receipt);
    if (queue.messages.length !== before) this.#save(queue);
    return queue.messages.length !== before;
  }

  changeVisibility(queue: Queue, receipt: string, seconds: number): boolean {
    const m = queue.messages.find((x) => x.receipt === receipt);
    if (!m || m.visibleAt <= Date.now()) return false;
    m.visibleAt = Date.now() + seconds * 1000;
    this.#save(queue);
    return true;
  }

  /** Messages in a queue (tests, the bench). */
  depth(ref: string): number {
    return this.queue(ref)?.messages.length ?? 0;
  }

  /** The JSON protocol (`AmazonSQS.X`) calls. */
  async handle(target: string, body: Record<string, unknown>): Promise<AwsResponse> {
    const operation = target.replace(/^AmazonSQS\./, "");
    const queue = this.queue(String(body["QueueUrl"] ?? body["QueueName"] ?? ""));
    if (!queue)
      return awsJsonError(400, "com.amazonaws.sqs#QueueDoesNotExist", "The specified queue does not exist.");
    try {
      return ok(this.#operation(queue, operation, body));
    } catch (err) {
      const e = err as Error;
      return awsJsonError(400, `com.amazonaws.sqs#${e.name}`, e.message);
    }
  }

  #operation(queue: Queue, operation: string, body: Record<string, unknown>): object {
    type Entry = Record<string, unknown>;
    const entries = (body["Entries"] ?? []) as Entry[];
    const sendOne = (e: Entry) =>
      this.send(queue, {
        body: String(e["MessageBody"] ?? ""),
        ...(e["MessageGroupId"] ? { groupId: String(e["MessageGroupId"]) } : {}),
        ...(e["MessageDeduplicationId"] ? { dedupId: String(e["MessageDeduplicationId"]) } : {}),
        ...(e["DelaySeconds"] !== undefined ? { delaySeconds: Number(e["DelaySeconds"]) } : {}),
      });
    const batch = (fn: (e: Entry) => object) => {
      if (entries.length === 0 || entries.length > 10)
        throw sqsError("TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10.");
      const Successful: object[] = [];
      const Failed: object[] = [];
      for (const e of entries) {
        try {
          Successful.push({ Id: e["Id"], ...fn(e) });
        } catch (err) {
          Failed.push({
            Id: e["Id"],
            SenderFault: true,
            Code: (err as Error).name,
            Message: (err as Error).message,
          });
        }
      }
      return { Successful, Failed };
    };
    const sent = (r: ReturnType<SqsStandIn["send"]>) => ({
      MessageId: r.id,
      MD5OfMessageBody: r.md5,
      ...(queue.fifo ? { SequenceNumber: r.sequence } : {}),
    });
    const visibility = (e: Entry) => {
      if (!this.changeVisibility(queue, String(e["ReceiptHandle"]), Number(e["VisibilityTimeout"]))) {
        throw sqsError("MessageNotInflight", "Message is not in flight.");
      }
      return {};
    };
    switch (operation) {
      case "SendMessage":
        return sent(sendOne(body));
      case "SendMessageBatch":
        return batch((e) => sent(sendOne(e)));
      case "ChangeMessageVisibility":
        return visibility(body);
      case "ChangeMessageVisibilityBatch":
        return batch(visibility);
      case "DeleteMessage":
        this.delete(queue, String(body["ReceiptHandle"]));
        return {};
      case "DeleteMessageBatch":
        return batch((e) => {
          this.delete(queue, String(e["ReceiptHandle"]));
          return {};
        });
      case "GetQueueUrl":
        return { QueueUrl: queue.url };
      case "GetQueueAttributes":
        return {
          Attributes: {
            QueueArn: queue.arn,
            ApproximateNumberOfMessages: String(
              queue.messages.filter((m) => m.visibleAt <= Date.now()).length,
            ),
            ApproximateNumberOfMessagesNotVisible: String(
              queue.messages.filter((m) => m.visibleAt > Date.now()).length,
            ),
            VisibilityTimeout: String(queue.visibilitySeconds),
            FifoQueue: String(queue.fifo),
          },
        };
      case "ReceiveMessage":
        return {
          Messages: this.receive(
            queue,
            Number(body["MaxNumberOfMessages"] ?? 1),
            body["VisibilityTimeout"] as number | undefined,
          ).map((m) => ({
            MessageId: m.id,
            ReceiptHandle: m.receipt,
            Body: m.body,
            MD5OfBody: md5(m.body),
            Attributes: attributesOf(m),
          })),
        };
      default:
        throw sqsError("UnsupportedOperation", `${operation} is not served by the AWS form's SQS stand-in`);
    }
  }
}

export function attributesOf(m: QueueMessage): Record<string, string> {
  return {
    ApproximateReceiveCount: String(m.receiveCount),
    SentTimestamp: String(m.sentAt),
    ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt),
    SenderId: "AROALOCAL",
    ...(m.groupId ? { MessageGroupId: m.groupId, SequenceNumber: m.sequence } : {}),
    ...(m.dedupId ? { MessageDeduplicationId: m.dedupId } : {}),
  };
}

function sqsError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

function ok(body: object): AwsResponse {
  return {
    status: 200,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify(body),
  };
}
