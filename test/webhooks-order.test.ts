/**
 * A tenant's webhooks reach the partner in sequence order on AWS whatever order the FIFO queue
 * holds them in: the stream hands the forwarder event items written by one BatchWriteItem in
 * any order. Real parts: the event items (dynalite), the forwarder's record parsing, the
 * dispatcher, the deliverer and an HTTP receiver. The FIFO queue is an in-test stand-in with
 * SQS FIFO's rules that matter here (no SQS runs offline): a group's messages are handed out in
 * the order sent, none while one of the group is in flight; a failed message becomes visible
 * again after its visibility timeout; a message the handler did not report failed is deleted.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDispatchOrder } from "../functions/adapters/dynamodb/dispatch-order.ts";
import { DynamoWebhookStore } from "../functions/adapters/dynamodb/webhook-store.ts";
import type { TenantChange } from "../functions/domain/store.ts";
import { WebhookDeliverer } from "../functions/webhooks/delivery.ts";
import { createDispatcher } from "../functions/webhooks/dispatcher.ts";
import { MAX_ORDER_WAIT_MS } from "../functions/webhooks/order-gate.ts";
import { PartnerWebhookService } from "../functions/webhooks/service.ts";
import { type DeliveryMessage, deduplicationIdOf, messageGroupOf } from "../functions/webhooks/sqs-queue.ts";
import { messageOfRecord } from "../functions/webhooks/stream-forwarder.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

/** SQS FIFO's group rules, in memory, on a clock the test moves. */
class FifoQueue {
  clock = Date.parse("2026-05-01T00:00:00Z");
  readonly #messages: {
    id: string;
    body: string;
    group: string;
    dedup: string;
    receives: number;
    firstReceivedAt?: number;
    visibleAt: number;
    receipt?: string;
  }[] = [];
  readonly #dedup = new Set<string>();
  #n = 0;

  async send(messages: readonly DeliveryMessage[]): Promise<DeliveryMessage[]> {
    for (const m of messages) {
      const dedup = deduplicationIdOf(m);
      if (this.#dedup.has(dedup)) continue;
      this.#dedup.add(dedup);
      this.#messages.push({
        id: `m${++this.#n}`,
        body: JSON.stringify(m),
        group: messageGroupOf(m),
        dedup,
        receives: 0,
        visibleAt: 0,
      });
    }
    return [];
  }

  async changeVisibility(entries: readonly { receiptHandle: string; seconds: number }[]): Promise<number> {
    for (const e of entries) {
      const m = this.#messages.find((x) => x.receipt === e.receiptHandle);
      if (m) m.visibleAt = this.clock + e.seconds * 1000;
    }
    return 0;
  }

  get size(): number {
    return this.#messages.length;
  }

  /** Up to 10 messages: per group, from its head, only while none of it is in flight. */
  receive(): SQSRecord[] {
    const out: SQSRecord[] = [];
    const groups = new Set(this.#messages.map((m) => m.group));
    for (const group of groups) {
      const ofGroup = this.#messages.filter((m) => m.group === group);
      if (ofGroup.some((m) => m.receipt !== undefined && m.visibleAt > this.clock)) continue;
      for (const m of ofGroup) {
        if (out.length === 10 || m.visibleAt > this.clock) break;
        m.receives++;
        m.firstReceivedAt ??= this.clock;
        m.receipt = `rh-${randomUUID()}`;
        m.visibleAt = this.clock + 30_000;
        out.push({
          messageId: m.id,
          receiptHandle: m.receipt,
          body: m.body,
          attributes: {
            MessageGroupId: m.group,
            ApproximateReceiveCount: String(m.receives),
            ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
          } as never,
          messageAttributes: {},
          md5OfBody: "",
          eventSource: "aws:sqs",
          eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:webhooks.fifo",
          awsRegion: "us-east-1",
        });
      }
    }
    return out;
  }

  /** What the event source mapping does with the handler's answer: deletes all but the failures. */
  settle(records: SQSRecord[], failed: Set<string>): void {
    for (const r of records) {
      if (failed.has(r.messageId)) continue;
      const i = this.#messages.findIndex((m) => m.id === r.messageId);
      if (i >= 0) this.#messages.splice(i, 1);
    }
  }

  /** Moves the clock to when the next message becomes visible. */
  wait(): void {
    const next = Math.min(...this.#messages.map((m) => m.visibleAt).filter((t) => t > this.clock));
    this.clock = Number.isFinite(next) ? next : this.clock + 1000;
  }
}

let db: FreshTable;
let webhookStore: DynamoWebhookStore;
let receiver: Server;
let receiverUrl = "";
const received: { tenantId: string; sequence: number }[] = [];

beforeAll(async () => {
  db = await freshTable();
  webhookStore = new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      received.push({ tenantId: payload.data.tenantId, sequence: payload.data.sequence });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const CHANGES: TenantChange[] = [
  { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
  ...(["check-access", "connector", "validate-connector", "journal-settings"] as const).map(
    (step): TenantChange => ({
      steps: { [step]: { status: "succeeded" } },
      event: { type: "tenant.onboarding.step_succeeded", step },
    }),
  ),
  { status: "succeeded", expectStatus: ["running"], event: { type: "tenant.onboarding.succeeded" } },
];

/** A partner with an endpoint and a tenant with its events: their delivery messages, in sequence order. */
async function tenantMessages(): Promise<{ tenantId: string; messages: DeliveryMessage[] }> {
  const partnerId = `p_${randomUUID().slice(0, 8)}`;
  const webhooks = new PartnerWebhookService({
    webhookStore,
    replays: { queueReplay: async () => {} } as never,
    allowInsecureLoopback: true,
  });
  await webhooks.putEndpoint(partnerId, { url: receiverUrl }, new Date().toISOString());
  const tenantId = randomUUID();
  const request = { tenantId, customerName: "contoso", region: "us" as const, outboundGateway: false };
  await db.store.registerTenant(
    partnerId,
    { ...request, ndrAddress: "admin@contoso.example" },
    new Date().toISOString(),
  );
  for (const change of CHANGES) await db.store.transition(tenantId, change, new Date().toISOString());
  const { Items } = await db.client.send(
    new QueryCommand({
      TableName: db.tableName,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :e)",
      ExpressionAttributeValues: { ":pk": { S: `TENANT#${tenantId}` }, ":e": { S: "EVENT#" } },
    }),
  );
  const messages = (Items ?? [])
    .map((image) =>
      messageOfRecord({ eventName: "INSERT", dynamodb: { NewImage: image as never } } as DynamoDBRecord),
    )
    .filter((m): m is DeliveryMessage => m !== undefined);
  return { tenantId, messages };
}

/** A seeded shuffle (the same orders on every run). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs the event source mapping until the queue is empty; answers the invocations it took. */
async function drain(queue: FifoQueue, dispatch: ReturnType<typeof createDispatcher>): Promise<number> {
  let invocations = 0;
  while (queue.size > 0 && invocations < 500) {
    const records = queue.receive();
    if (records.length === 0) {
      queue.wait();
      continue;
    }
    invocations++;
    const result = await dispatch({ Records: records });
    queue.settle(records, new Set(result.batchItemFailures.map((f) => f.itemIdentifier)));
  }
  return invocations;
}

function dispatcherOn(queue: FifoQueue, errors: string[] = []) {
  return createDispatcher({
    deliverer: new WebhookDeliverer({ webhookStore, allowInsecureLoopback: true, retrySchedule: [0] }),
    queue,
    order: new DynamoDispatchOrder({ client: db.docClient, table: db.tableName }),
    pending: async (tenantId, sequence) =>
      (await webhookStore.getDelivery(tenantId, sequence))?.status === "pending",
    now: () => queue.clock,
    logger: { warn: () => {}, error: (message: string) => void errors.push(message) },
  });
}

describe("webhook order on AWS", () => {
  it.each([1, 2, 3, 4, 5])(
    "reaches the partner in sequence order from a shuffled queue (order %i)",
    async (seed) => {
      const { tenantId, messages } = await tenantMessages();
      expect(messages.length).toBe(CHANGES.length);
      expect(messages.every((m) => m.first === messages[0]!.sequence)).toBe(true);
      const order = seed === 1 ? [...messages].reverse() : shuffled(messages, seed);
      const queue = new FifoQueue();
      await queue.send(order);
      await drain(queue, dispatcherOn(queue));
      const sequences = received.filter((r) => r.tenantId === tenantId).map((r) => r.sequence);
      expect(sequences).toEqual(messages.map((m) => m.sequence));
    },
  );

  it("waits for a predecessor that reaches the queue later", async () => {
    const { tenantId, messages } = await tenantMessages();
    const queue = new FifoQueue();
    const dispatch = dispatcherOn(queue);
    // The forwarder's invocation for the first two events is late (another shard).
    await queue.send(messages.slice(2));
    for (let i = 0; i < 3; i++) {
      const records = queue.receive();
      const result = await dispatch({ Records: records });
      queue.settle(records, new Set(result.batchItemFailures.map((f) => f.itemIdentifier)));
      queue.wait();
    }
    expect(received.filter((r) => r.tenantId === tenantId)).toEqual([]);
    await queue.send(messages.slice(0, 2));
    await drain(queue, dispatch);
    expect(received.filter((r) => r.tenantId === tenantId).map((r) => r.sequence)).toEqual(
      messages.map((m) => m.sequence),
    );
  });

  it("sends an event whose predecessor never arrives after the wait, and says so", async () => {
    const { tenantId, messages } = await tenantMessages();
    const queue = new FifoQueue();
    const errors: string[] = [];
    const dispatch = dispatcherOn(queue, errors);
    await queue.send(messages.slice(1, 2));
    let invocations = 0;
    while (queue.size > 0 && invocations++ < 200) {
      const records = queue.receive();
      if (records.length > 0) {
        const result = await dispatch({ Records: records });
        queue.settle(records, new Set(result.batchItemFailures.map((f) => f.itemIdentifier)));
      }
      queue.wait();
    }
    expect(received.filter((r) => r.tenantId === tenantId).map((r) => r.sequence)).toEqual([
      messages[1]!.sequence,
    ]);
    expect(queue.clock - Date.parse("2026-05-01T00:00:00Z")).toBeGreaterThan(MAX_ORDER_WAIT_MS);
    expect(errors.some((e) => e.includes("never arrived"))).toBe(true);
  });
});
