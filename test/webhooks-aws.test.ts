// The AWS runtime of webhook delivery: the stream forwarder (stream records of real event items
// -> SQS FIFO messages) and the SQS dispatcher (partial batch responses, visibility as backoff),
// with the real SQS client. No SQS runs offline, so the queue is a small SQS-compatible HTTP
// stand-in that records what the client sent; DynamoDB (dynalite) and the receivers are real.
import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBRecord, SQSRecord } from "aws-lambda";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { DynamoWebhookStore } from "../functions/adapters/dynamodb/webhook-store.ts";
import type { TenantChange } from "../functions/domain/store.ts";
import { WebhookDeliverer } from "../functions/webhooks/delivery.ts";
import { createDispatcher } from "../functions/webhooks/dispatcher.ts";
import { PartnerWebhookService } from "../functions/webhooks/service.ts";
import { type DeliveryMessage, messageGroupOf, SqsDeliveryQueue } from "../functions/webhooks/sqs-queue.ts";
import { createStreamForwarder } from "../functions/webhooks/stream-forwarder.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";
import { registeredTenant } from "./support/started-tenant.ts";

interface SqsCall {
  action: string;
  input: Record<string, unknown> & { Entries: Record<string, unknown>[] };
}

/** Answers SendMessageBatch and ChangeMessageVisibilityBatch (AWS JSON 1.0), recording them. */
class SqsStandIn {
  readonly calls: SqsCall[] = [];
  /** Entries (by MessageDeduplicationId) to refuse once. */
  readonly refuse = new Set<string>();
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const action = String(req.headers["x-amz-target"]).replace("AmazonSQS.", "");
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        this.calls.push({ action, input });
        const successful: Record<string, unknown>[] = [];
        const failed: Record<string, unknown>[] = [];
        for (const entry of input.Entries as Record<string, string>[]) {
          const dedup = entry["MessageDeduplicationId"];
          if (dedup && this.refuse.delete(dedup)) {
            failed.push({ Id: entry["Id"], Code: "InternalError", SenderFault: false, Message: "refused" });
          } else if (action === "SendMessageBatch") {
            const md5 = createHash("md5").update(entry["MessageBody"]!).digest("hex");
            successful.push({ Id: entry["Id"], MessageId: randomUUID(), MD5OfMessageBody: md5 });
          } else {
            successful.push({ Id: entry["Id"] });
          }
        }
        res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
        res.end(JSON.stringify({ Successful: successful, Failed: failed }));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  sent(): DeliveryMessage[] {
    return this.calls
      .filter((c) => c.action === "SendMessageBatch")
      .flatMap((c) => c.input.Entries.map((e) => JSON.parse(e["MessageBody"] as string) as DeliveryMessage));
  }

  entries(action: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.action === action).flatMap((c) => c.input.Entries);
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

let db: FreshTable;
let sqs: SqsStandIn;
let queue: SqsDeliveryQueue;
let webhookStore: DynamoWebhookStore;
const received: { sequence: number; tenantId: string; id: string; verified: boolean; status: number }[] = [];
let secret = "";
let respond: (sequence: number) => number = () => 200;
let receiver: Server;
let receiverUrl = "";

beforeAll(async () => {
  db = await freshTable();
  webhookStore = new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName });
  sqs = new SqsStandIn();
  const endpoint = await sqs.start();
  queue = new SqsDeliveryQueue({
    client: new SQSClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    }),
    queueUrl: `${endpoint}/000000000000/webhooks.fifo`,
  });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const payload = JSON.parse(body);
      let verified = true;
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>);
      } catch {
        verified = false;
      }
      const status = respond(payload.data.sequence);
      received.push({
        sequence: payload.data.sequence,
        tenantId: payload.data.tenantId,
        id: String(req.headers["webhook-id"]),
        verified,
        status,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  await sqs.stop();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const now = () => new Date().toISOString();
const CHANGES: TenantChange[] = [
  { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
  {
    steps: { "check-access": { status: "succeeded" } },
    event: { type: "tenant.onboarding.step_succeeded", step: "check-access" },
  },
  {
    status: "failed",
    expectStatus: ["running"],
    error: { code: "M365_ACCESS_DENIED", message: "denied" },
    event: { type: "tenant.onboarding.failed", error: { code: "M365_ACCESS_DENIED", message: "denied" } },
  },
];

/** A tenant with three events, and the stream records (INSERT, new image) of its items. */
async function tenantRecords(partnerId: string): Promise<{ tenantId: string; records: DynamoDBRecord[] }> {
  const tenantId = await registeredTenant(db.store, partnerId);
  for (const change of CHANGES) await db.store.transition(tenantId, change, now());
  const { Items } = await db.client.send(
    new QueryCommand({
      TableName: db.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": { S: `TENANT#${tenantId}` } },
    }),
  );
  const records = (Items ?? []).map(
    (image, i): DynamoDBRecord => ({
      eventName: "INSERT",
      dynamodb: {
        Keys: { pk: image["pk"]!, sk: image["sk"]! } as never,
        NewImage: image as never,
        SequenceNumber: `${Date.now()}${i}`,
      },
    }),
  );
  return { tenantId, records };
}

let receiveCount = 0;
function sqsRecords(messages: DeliveryMessage[]): SQSRecord[] {
  return messages.map((m) => ({
    messageId: randomUUID(),
    receiptHandle: `rh-${++receiveCount}`,
    body: JSON.stringify(m),
    attributes: { MessageGroupId: messageGroupOf(m), ApproximateReceiveCount: "1" } as never,
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:webhooks.fifo",
    awsRegion: "us-east-1",
  }));
}

/** A store whose process "dies" at the flush: every BatchWriteItem fails (a fault no real part produces on demand). */
function storeDyingAtFlush(): DynamoTenantStore {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint") });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "BatchWriteItemCommand") throw new Error("process died");
      return next(args);
    },
    { step: "initialize" },
  );
  return new DynamoTenantStore({
    client: createDocumentClient({ client }),
    tableName: db.tableName,
    onFlushError: () => {},
  });
}

describe("stream forwarder", () => {
  it("writes out an outbox that a dying task left in the tenant item, so its event is delivered", async () => {
    const tenantId = randomUUID();
    await db.store.registerTenant(
      "p_outbox",
      {
        tenantId,
        customerName: "contoso",
        region: "us",
        outboundGateway: false,
        ndrAddress: "admin@contoso.example",
      },
      now(),
    );
    const { event } = await storeDyingAtFlush().transition(tenantId, CHANGES[0]!, now());
    const eventItems = async () =>
      (
        await db.client.send(
          new QueryCommand({
            TableName: db.tableName,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :e)",
            ExpressionAttributeValues: { ":pk": { S: `TENANT#${tenantId}` }, ":e": { S: "EVENT#" } },
          }),
        )
      ).Items ?? [];
    expect(await eventItems()).toEqual([]);
    const { Items } = await db.client.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: "pk = :pk AND sk = :sk",
        ExpressionAttributeValues: { ":pk": { S: `TENANT#${tenantId}` }, ":sk": { S: "TENANT" } },
      }),
    );
    const tenantRecord: DynamoDBRecord = {
      eventName: "MODIFY",
      dynamodb: {
        Keys: { pk: Items![0]!["pk"]!, sk: Items![0]!["sk"]! } as never,
        NewImage: Items![0] as never,
        SequenceNumber: "1",
      },
    };
    const forward = createStreamForwarder({ queue, flushOutbox: (id) => db.store.flushOutbox(id) });
    expect(await forward({ Records: [tenantRecord] })).toEqual({ batchItemFailures: [] });
    const written = await eventItems();
    expect(written.map((i) => i["id"]?.S)).toEqual([event!.id]);

    // A flush that fails is reported, so the stream retries the record.
    const failing = createStreamForwarder({
      queue,
      flushOutbox: async () => {
        throw new Error("throttled");
      },
      logger: { warn: () => {}, error: () => {} },
    });
    expect(await failing({ Records: [tenantRecord] })).toEqual({
      batchItemFailures: [{ itemIdentifier: "1" }],
    });
  });

  it("turns event inserts into FIFO messages: group = tenant, deduplication id = event id, in order", async () => {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const a = await tenantRecords(partnerId);
    const b = await tenantRecords(partnerId);
    // A tenant item's insert and a modification are not deliveries.
    const noise: DynamoDBRecord[] = [{ ...a.records[0]!, eventName: "MODIFY" }];
    const before = sqs.calls.length;
    const forward = createStreamForwarder({ queue });
    const result = await forward({ Records: [...a.records, ...noise, ...b.records] });
    expect(result.batchItemFailures).toEqual([]);

    const entries = sqs.calls.slice(before).flatMap((c) => c.input.Entries);
    const events = [...(await db.store.listEvents(a.tenantId)), ...(await db.store.listEvents(b.tenantId))];
    expect(entries).toHaveLength(6);
    for (const e of events) {
      const entry = entries.find((x) => x["MessageDeduplicationId"] === e.id)!;
      // One group per tenant and partner: a previous owner's retries never hold a new owner back.
      expect(entry["MessageGroupId"]).toBe(`${e.data.tenantId}:${partnerId}`);
      expect(JSON.parse(entry["MessageBody"] as string)).toEqual({
        tenantId: e.data.tenantId,
        sequence: e.data.sequence,
        eventId: e.id,
        partnerId,
        event: e,
        // The registration's first sequence: the dispatcher's order gate starts from it.
        first: 1,
      });
    }
    // Per tenant, in sequence order, never two of one tenant in one call.
    for (const call of sqs.calls.slice(before)) {
      const groups = call.input.Entries.map((x) => x["MessageGroupId"]);
      expect(new Set(groups).size).toBe(groups.length);
    }
    const order = sqs.calls
      .slice(before)
      .flatMap((c) => c.input.Entries)
      .filter((x) => x["MessageGroupId"] === `${a.tenantId}:${partnerId}`)
      .map((x) => JSON.parse(x["MessageBody"] as string).sequence);
    expect(order).toEqual([1, 2, 3]);
  });

  it("reports what it could not enqueue, and sends nothing of that tenant after it", async () => {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const a = await tenantRecords(partnerId);
    const b = await tenantRecords(partnerId);
    const eventsA = await db.store.listEvents(a.tenantId);
    sqs.refuse.add(eventsA[1]!.id);
    const before = sqs.calls.length;
    const result = await createStreamForwarder({ queue, logger: { warn: () => {}, error: () => {} } })({
      Records: [...a.records, ...b.records],
    });

    const eventRecordsA = a.records.filter((r) => r.dynamodb?.Keys?.["sk"]?.S?.startsWith("EVENT#"));
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      eventRecordsA.slice(1).map((r) => r.dynamodb!.SequenceNumber),
    );
    const sentA = sqs.calls
      .slice(before)
      .flatMap((c) => c.input.Entries)
      .filter((x) => x["MessageGroupId"] === `${a.tenantId}:${partnerId}`)
      .map((x) => JSON.parse(x["MessageBody"] as string).sequence);
    expect(sentA).toEqual([1, 2]); // 2 was refused, 3 never sent
    const sentB = sqs.calls
      .slice(before)
      .flatMap((c) => c.input.Entries)
      .filter((x) => x["MessageGroupId"] === `${b.tenantId}:${partnerId}`);
    expect(sentB).toHaveLength(3);
  });
});

describe("SQS dispatcher", () => {
  it("delivers, holds a tenant's group with visibility while retrying, and releases it after", async () => {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const webhooks = new PartnerWebhookService({ webhookStore, replays: queue, allowInsecureLoopback: true });
    secret = (await webhooks.putEndpoint(partnerId, { url: receiverUrl }, now())).secret!;
    const a = await tenantRecords(partnerId);
    const b = await tenantRecords(partnerId);
    const before = sqs.calls.length;
    await createStreamForwarder({ queue })({ Records: [...a.records, ...b.records] });
    const messages = sqs.sent().slice(-6);
    expect(sqs.calls.length).toBeGreaterThan(before);

    let failFirst = true;
    respond = (sequence) => (sequence === 1 && failFirst ? 500 : 200);
    const dispatch = createDispatcher({
      deliverer: new WebhookDeliverer({
        webhookStore,
        allowInsecureLoopback: true,
        retrySchedule: [0],
        random: () => 0.5,
      }),
      queue,
      logger: { warn: () => {}, error: () => {} },
    });

    // Receive 1: every tenant's first event fails once; the rest of each group goes back.
    const records = sqsRecords(messages);
    const first = await dispatch({ Records: records });
    expect(first.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      records.map((r) => r.messageId).sort(),
    );
    const holds = sqs.entries("ChangeMessageVisibilityBatch").slice(-6);
    expect(holds.map((h) => h["VisibilityTimeout"])).toEqual([0, 0, 0, 0, 0, 0]);
    expect(received.map((r) => [r.tenantId, r.sequence, r.status])).toEqual(
      expect.arrayContaining([
        [a.tenantId, 1, 500],
        [b.tenantId, 1, 500],
      ]),
    );
    expect(received).toHaveLength(2);

    // Receive 2: all through, in order, all deleted (no failures).
    failFirst = false;
    const second = await dispatch({ Records: sqsRecords(messages) });
    expect(second.batchItemFailures).toEqual([]);
    const ofA = received.filter((r) => r.tenantId === a.tenantId);
    expect(ofA.map((r) => [r.sequence, r.status])).toEqual([
      [1, 500],
      [1, 200],
      [2, 200],
      [3, 200],
    ]);
    expect(received.every((r) => r.verified)).toBe(true);
    const events = await db.store.listEvents(a.tenantId);
    expect(ofA.map((r) => r.id)).toEqual([events[0]!.id, ...events.map((e) => e.id)]);

    // A redelivered message of a settled delivery is deleted without a request.
    const count = received.length;
    const again = await dispatch({ Records: sqsRecords(messages.slice(0, 1)) });
    expect(again.batchItemFailures).toEqual([]);
    expect(received).toHaveLength(count);

    // Replay: a new message for the next round (own deduplication id), a stale one does nothing.
    const [delivery] = (
      await webhooks.listDeliveries({ role: "partner", partnerId }, { limit: 1, tenantId: a.tenantId })
    ).items;
    await webhooks.replayDelivery({ role: "ops" }, delivery!.deliveryId, now());
    const replayEntry = sqs.entries("SendMessageBatch").at(-1)!;
    expect(replayEntry["MessageDeduplicationId"]).toBe(`${delivery!.eventId}:r1`);
    expect(replayEntry["MessageGroupId"]).toBe(`${a.tenantId}:${partnerId}`);
    const stale = await dispatch({
      Records: sqsRecords(messages.filter((m) => m.eventId === delivery!.eventId)),
    });
    expect(stale.batchItemFailures).toEqual([]);
    expect(received).toHaveLength(count);
    const replayed = await dispatch({
      Records: sqsRecords([JSON.parse(replayEntry["MessageBody"] as string) as DeliveryMessage]),
    });
    expect(replayed.batchItemFailures).toEqual([]);
    expect(received.at(-1)).toMatchObject({
      tenantId: a.tenantId,
      sequence: 3,
      id: delivery!.eventId,
      status: 200,
    });
  });

  it("hides a message for the backoff, then deletes it once the schedule is spent", async () => {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const webhooks = new PartnerWebhookService({ webhookStore, replays: queue, allowInsecureLoopback: true });
    secret = (await webhooks.putEndpoint(partnerId, { url: receiverUrl }, now())).secret!;
    const a = await tenantRecords(partnerId);
    await createStreamForwarder({ queue })({ Records: a.records });
    const [firstMessage] = sqs.sent().slice(-3);
    respond = () => 503;
    let clock = Date.now();
    const dispatch = createDispatcher({
      deliverer: new WebhookDeliverer({
        webhookStore,
        allowInsecureLoopback: true,
        retrySchedule: [60_000],
        random: () => 0.5,
        clock: () => new Date(clock),
      }),
      queue,
      now: () => clock,
      logger: { warn: () => {}, error: () => {} },
    });
    const first = await dispatch({ Records: sqsRecords([firstMessage!]) });
    expect(first.batchItemFailures).toHaveLength(1);
    expect(sqs.entries("ChangeMessageVisibilityBatch").at(-1)!["VisibilityTimeout"]).toBe(60);

    // Received again early (e.g. a visibility change that failed): hidden for the rest, no request.
    const count = received.length;
    clock += 20_000;
    const early = await dispatch({ Records: sqsRecords([firstMessage!]) });
    expect(early.batchItemFailures).toHaveLength(1);
    expect(sqs.entries("ChangeMessageVisibilityBatch").at(-1)!["VisibilityTimeout"]).toBe(40);
    expect(received).toHaveLength(count);

    clock += 40_000;
    const last = await dispatch({ Records: sqsRecords([firstMessage!]) });
    expect(last.batchItemFailures).toEqual([]);
    const [delivery] = (
      await webhooks.listDeliveries({ role: "partner", partnerId }, { limit: 3, tenantId: a.tenantId })
    ).items.filter((d) => d.sequence === 1);
    expect(delivery).toMatchObject({ status: "failed", attempts: 2, lastResponseStatus: 503 });
  });
});
