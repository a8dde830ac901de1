// Webhook delivery end to end: events made by the real store on dynalite, delivered by the
// local dispatcher to real HTTP receivers on 127.0.0.1 that verify signatures with the
// `standardwebhooks` package.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import type { DeliveryRecord } from "../functions/adapters/dynamodb/webhook-store.ts";
import { DynamoWebhookStore } from "../functions/adapters/dynamodb/webhook-store.ts";
import { InvalidCursorError, WebhookNotFoundError } from "../functions/domain/errors.ts";
import type { TenantChange } from "../functions/domain/store.ts";
import { EVENT_TYPES, type OnboardingRequest, type TenantEvent } from "../functions/domain/tenant.ts";
import { createLocalWebhooks } from "../functions/webhooks/index.ts";
import { createLocalDispatcher, type LocalDispatcher } from "../functions/webhooks/local-dispatcher.ts";
import { PartnerWebhookService } from "../functions/webhooks/service.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

// ---- a partner's receiver ------------------------------------------------------------------

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as `standardwebhooks` verified it; undefined when verification failed. */
  payload?: { type: string; timestamp: string; data: { tenantId: string; sequence: number; status: string } };
  status: number;
}

type Responder = (
  body: { data: { sequence: number } },
  nth: number,
) => { status: number; headers?: Record<string, string> };

class Receiver {
  readonly received: Received[] = [];
  secret = "";
  respond: Responder = () => ({ status: 204 });
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks`;
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let payload: Received["payload"];
        try {
          payload = new Webhook(this.secret).verify(
            body,
            req.headers as Record<string, string>,
          ) as Received["payload"];
        } catch {
          payload = undefined;
        }
        const answer = this.respond(JSON.parse(body), this.received.length + 1);
        this.received.push({
          headers: req.headers,
          body,
          ...(payload && { payload }),
          status: answer.status,
        });
        res.writeHead(answer.status, answer.headers).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get port(): number {
    return this.#port;
  }

  /** Sequences of the successfully answered requests, in arrival order. */
  deliveredSequences(tenantId: string): number[] {
    return this.received
      .filter((r) => r.status < 300 && r.payload?.data.tenantId === tenantId)
      .map((r) => r.payload!.data.sequence);
  }
}

// ---- fixtures ------------------------------------------------------------------------------

let db: FreshTable;
let webhookStore: DynamoWebhookStore;
/** The dispatcher the store's onEvents currently feeds (tests swap it). */
let current: LocalDispatcher | undefined;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await freshTable({ onEvents: (events, partnerId) => current?.enqueue(events, partnerId) });
  webhookStore = new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  current = undefined;
});

const FAST = [20, 20, 20, 20];

function dispatcher(options: Partial<Parameters<typeof createLocalDispatcher>[0]> = {}): LocalDispatcher {
  const d = createLocalDispatcher({
    webhookStore,
    store: db.store,
    allowInsecureLoopback: true,
    retrySchedule: FAST,
    timeoutMs: 5_000,
    logger: { warn: () => {}, error: (m, f) => console.error(m, f) },
    ...options,
  });
  current = d;
  cleanups.push(() => d.close());
  return d;
}

function service(
  replays: LocalDispatcher,
  options: Partial<ConstructorParameters<typeof PartnerWebhookService>[0]> = {},
) {
  return new PartnerWebhookService({ webhookStore, replays, allowInsecureLoopback: true, ...options });
}

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  cleanups.push(() => r.stop());
  return r;
}

const now = () => new Date().toISOString();
const newPartner = () => `p_${randomUUID().slice(0, 8)}`;

function request(tenantId: string): OnboardingRequest {
  return {
    tenantId,
    customerName: "contoso",
    region: "us",
    outboundGateway: false,
    ndrAddress: "admin@contoso.example",
  };
}

/** A tenant taken through `steps` transitions, each with an event; returns its events. */
async function tenantWithEvents(
  partnerId: string,
  changes: TenantChange[],
): Promise<{ tenantId: string; events: TenantEvent[] }> {
  const tenantId = randomUUID();
  await db.store.registerTenant(partnerId, request(tenantId), now());
  for (const change of changes) await db.store.transition(tenantId, change, now());
  return { tenantId, events: await db.store.listEvents(tenantId) };
}

const ONBOARDING: TenantChange[] = [
  { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
  {
    steps: { "check-access": { status: "succeeded" } },
    event: { type: "tenant.onboarding.step_succeeded", step: "check-access" },
  },
  {
    steps: { "journal-settings": { status: "succeeded" } },
    event: { type: "tenant.onboarding.step_succeeded", step: "journal-settings" },
  },
  {
    steps: { "journal-rules": { status: "succeeded" } },
    event: { type: "tenant.onboarding.step_succeeded", step: "journal-rules" },
  },
  { status: "succeeded", expectStatus: ["running"], event: { type: "tenant.onboarding.succeeded" } },
];

async function endpointFor(
  webhooks: PartnerWebhookService,
  partnerId: string,
  r: Receiver,
  events?: TenantEvent["type"][],
) {
  const { secret } = await webhooks.putEndpoint(partnerId, { url: r.url, ...(events && { events }) }, now());
  r.secret = secret!;
}

/** Waits (no deadline: the test timeout is the bound) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

const deliveriesOf = async (webhooks: PartnerWebhookService, partnerId: string, tenantId: string) =>
  (await webhooks.listDeliveries({ role: "partner", partnerId }, { limit: 100, tenantId })).items;

// ---- tests ---------------------------------------------------------------------------------

describe("delivery", () => {
  it("delivers a tenant's events in sequence order, signed, with webhook-id = event id", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);

    const { tenantId, events } = await tenantWithEvents(partnerId, ONBOARDING);
    await d.idle();

    expect(events.map((e) => e.data.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(r.received).toHaveLength(5);
    expect(r.received.every((x) => x.payload !== undefined)).toBe(true);
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2, 3, 4, 5]);
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual(events.map((e) => e.id));
    // The body is exactly {type, timestamp, data} of the stored event.
    expect(r.received.map((x) => JSON.parse(x.body))).toEqual(
      events.map((e) => ({ type: e.type, timestamp: e.timestamp, data: e.data })),
    );
    expect(r.received[1]!.payload!.data).toMatchObject({ step: "check-access", status: "running" });
    expect(r.received[0]!.headers["content-type"]).toBe("application/json");

    const log = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(log.map((x) => x.sequence)).toEqual([5, 4, 3, 2, 1]);
    expect(log.every((x) => x.status === "succeeded" && x.attempts === 1)).toBe(true);
    expect(log[0]!.attemptLog[0]).toMatchObject({ responseStatus: 204 });
    expect(typeof log[0]!.attemptLog[0]!.latencyMs).toBe("number");
  });

  it("delivers only the types the endpoint subscribed to", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r, ["tenant.onboarding.succeeded", "tenant.onboarding.started"]);

    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING);
    await d.idle();
    expect(r.received.map((x) => x.payload?.type)).toEqual([
      "tenant.onboarding.started",
      "tenant.onboarding.succeeded",
    ]);
    expect(r.deliveredSequences(tenantId)).toEqual([1, 5]);
  });

  it("retries a failing receiver, and holds the tenant's later events until the earlier one is through", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    // Each event's first two attempts fail (500, then a dropped connection's cousin: 502).
    const seen = new Map<number, number>();
    r.respond = (body) => {
      const n = (seen.get(body.data.sequence) ?? 0) + 1;
      seen.set(body.data.sequence, n);
      return { status: n === 1 ? 500 : n === 2 ? 502 : 200 };
    };
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);

    const { tenantId, events } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 3));
    await d.idle();

    // Per sequence: three requests, same webhook-id, valid signatures each time.
    const bySequence = Map.groupBy(r.received, (x) => x.payload!.data.sequence);
    for (const e of events) {
      const requests = bySequence.get(e.data.sequence)!;
      expect(requests.map((x) => x.status)).toEqual([500, 502, 200]);
      expect(new Set(requests.map((x) => x.headers["webhook-id"]))).toEqual(new Set([e.id]));
    }
    // FIFO: every request of sequence n comes after the success of n - 1.
    const order = r.received.map((x) => x.payload!.data.sequence);
    expect(order).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);

    const log = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(log[2]).toMatchObject({ sequence: 1, status: "succeeded", attempts: 3, lastResponseStatus: 200 });
    expect(log[2]!.attemptLog.map((a) => a.responseStatus)).toEqual([500, 502, 200]);
    expect(log[2]!.attemptLog[0]!.error).toMatchObject({ code: "WEBHOOK_HTTP_ERROR" });
  });

  it("does not hold other tenants behind a tenant whose receiver keeps failing", async () => {
    const d = dispatcher({ retrySchedule: Array(200).fill(25) });
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);
    const stuck = randomUUID();
    r.respond = (body) => ({
      status: (body as unknown as Received["payload"])!.data.tenantId === stuck ? 503 : 200,
    });

    await db.store.registerTenant(partnerId, request(stuck), now());
    await db.store.transition(stuck, ONBOARDING[0]!, now());
    const other = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 2));
    await until(() => r.deliveredSequences(other.tenantId).length === 2);
    expect(r.deliveredSequences(other.tenantId)).toEqual([1, 2]);
    const [pending] = await deliveriesOf(webhooks, partnerId, stuck);
    expect(pending).toMatchObject({ status: "pending" });
  });

  it("sends for several tenants at once, never more than maxConcurrentAttempts", async () => {
    const d = dispatcher({ maxConcurrentAttempts: 2, maxConcurrentAttemptsPerPartner: 2 });
    const webhooks = service(d);
    const partnerId = newPartner();
    let inFlight = 0;
    let most = 0;
    const release: (() => void)[] = [];
    // Holds each request until a third one is in flight (never, within the limit) or a moment has passed.
    const server = createServer((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const answer = () => {
        inFlight--;
        res.writeHead(204).end();
      };
      req.resume();
      if (inFlight >= 3) {
        for (const r of release.splice(0)) r();
        answer();
      } else {
        const timer = setTimeout(() => release.splice(release.indexOf(go), 1) && answer(), 200);
        const go = () => {
          clearTimeout(timer);
          answer();
        };
        release.push(go);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await webhooks.putEndpoint(
      partnerId,
      { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` },
      now(),
    );
    const tenants = await Promise.all(
      Array.from({ length: 5 }, () => tenantWithEvents(partnerId, ONBOARDING.slice(0, 1))),
    );
    await d.idle();
    expect(most).toBe(2);
    for (const t of tenants) {
      expect(await deliveriesOf(webhooks, partnerId, t.tenantId)).toEqual([
        expect.objectContaining({ status: "succeeded" }),
      ]);
    }
  });

  it("gives up after the schedule: the delivery is failed, and the next event goes out", async () => {
    const d = dispatcher({ retrySchedule: [10, 10] });
    const webhooks = service(d);
    const r = await receiver();
    r.respond = (body) => ({ status: body.data.sequence === 1 ? 500 : 200 });
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);

    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 2));
    await d.idle();
    const [second, first] = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(first).toMatchObject({ status: "failed", attempts: 3, error: { code: "WEBHOOK_HTTP_ERROR" } });
    expect(first!.nextAttemptAt).toBeUndefined();
    expect(second).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("honours Retry-After on 429 over a shorter scheduled delay", async () => {
    const attempts: DeliveryRecord[] = [];
    const d = dispatcher({ retrySchedule: [10], onAttempt: (delivery) => attempts.push(delivery) });
    const webhooks = service(d);
    const r = await receiver();
    r.respond = (_body, nth) =>
      nth === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 };
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);

    await tenantWithEvents(partnerId, ONBOARDING.slice(0, 1));
    await d.idle();
    expect(r.received.map((x) => x.status)).toEqual([429, 200]);
    const afterThrottle = attempts[0]!;
    expect(afterThrottle.status).toBe("pending");
    const waitedMs = Date.parse(afterThrottle.nextAttemptAt!) - Date.parse(afterThrottle.lastAttemptAt!);
    expect(waitedMs).toBeGreaterThanOrEqual(1000);
    expect(attempts[1]).toMatchObject({ status: "succeeded", attempts: 2 });
  });

  it("disables the endpoint on 410 Gone until it is PUT again", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    r.respond = () => ({ status: 410 });
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);

    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 3));
    await d.idle();
    expect(r.received).toHaveLength(1);
    const endpoint = await webhooks.getEndpoint(partnerId);
    expect(endpoint.disabledAt).toBeDefined();
    const log = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(log.map((x) => [x.sequence, x.status, x.error?.code])).toEqual([
      [3, "failed", "WEBHOOK_ENDPOINT_DISABLED"],
      [2, "failed", "WEBHOOK_ENDPOINT_DISABLED"],
      [1, "failed", "WEBHOOK_ENDPOINT_GONE"],
    ]);

    // The partner fixes its receiver and PUTs the endpoint again (same secret), then replays.
    r.respond = () => ({ status: 200 });
    const put = await webhooks.putEndpoint(partnerId, { url: r.url }, now());
    expect(put.secret).toBeUndefined();
    expect(put.endpoint.disabledAt).toBeUndefined();
    for (const delivery of [...log].reverse()) {
      await webhooks.replayDelivery({ role: "partner", partnerId }, delivery.deliveryId, now());
    }
    await d.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2, 3]);
  });

  it("loses nothing while the receiver is down, and delivers in order once it is back", async () => {
    const failures: DeliveryRecord[] = [];
    const d = dispatcher({
      retrySchedule: Array(400).fill(25),
      onAttempt: (delivery, attempt) => {
        if (attempt.error) failures.push(delivery);
      },
    });
    const webhooks = service(d);
    const r = await receiver();
    const port = r.port;
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);
    await r.stop();

    const { tenantId, events } = await tenantWithEvents(partnerId, ONBOARDING);
    await until(() => failures.length >= 3);
    expect(failures.every((f) => f.attemptLog.at(-1)!.error!.code === "WEBHOOK_CONNECTION_FAILED")).toBe(
      true,
    );
    // Nothing but the first event was tried while it was failing.
    expect(new Set(failures.map((f) => f.sequence))).toEqual(new Set([1]));

    await r.start(port);
    await d.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2, 3, 4, 5]);
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual(events.map((e) => e.id));
  });
});

describe("replay", () => {
  it("sends a failed delivery again with the same webhook-id and a fresh schedule", async () => {
    const d = dispatcher({ retrySchedule: [] });
    const webhooks = service(d);
    const r = await receiver();
    r.respond = (_body, nth) => ({ status: nth === 1 ? 500 : 200 });
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);
    const { tenantId, events } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 1));
    await d.idle();
    const [failed] = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1 });

    const replayed = await webhooks.replayDelivery({ role: "partner", partnerId }, failed!.deliveryId, now());
    expect(replayed).toMatchObject({ status: "pending", replays: 1 });
    await d.idle();
    const [after] = await deliveriesOf(webhooks, partnerId, tenantId);
    expect(after).toMatchObject({ status: "succeeded", attempts: 2, replays: 1 });
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual([events[0]!.id, events[0]!.id]);
    expect(r.received[1]!.payload).toBeDefined();

    // A succeeded delivery can be replayed too (the partner lost it on its side).
    await webhooks.replayDelivery({ role: "ops" }, failed!.deliveryId, now());
    await d.idle();
    expect(r.received).toHaveLength(3);
  });
});

describe("replay ordering", () => {
  it("queues a replay behind the tenant's delivery that is still being retried", async () => {
    const d = dispatcher({ retrySchedule: Array(200).fill(25) });
    const webhooks = service(d);
    const r = await receiver();
    let secondFails = true;
    r.respond = (body) => ({ status: body.data.sequence === 2 && secondFails ? 500 : 200 });
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 2));
    await until(() => r.received.some((x) => x.payload?.data.sequence === 2));
    const first = (await deliveriesOf(webhooks, partnerId, tenantId)).find((x) => x.sequence === 1)!;
    await webhooks.replayDelivery({ role: "partner", partnerId }, first.deliveryId, now());
    secondFails = false;
    await d.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2, 1]);
  });
});

describe("isolation", () => {
  it("a partner sees and replays only its own deliveries; ops sees all", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const [ra, rb] = [await receiver(), await receiver()];
    const [a, b] = [newPartner(), newPartner()];
    await endpointFor(webhooks, a, ra);
    await endpointFor(webhooks, b, rb);
    const ta = await tenantWithEvents(a, ONBOARDING.slice(0, 2));
    const tb = await tenantWithEvents(b, ONBOARDING.slice(0, 1));
    await d.idle();
    expect(ra.deliveredSequences(ta.tenantId)).toEqual([1, 2]);
    expect(rb.received).toHaveLength(1);

    const ofA = await webhooks.listDeliveries({ role: "partner", partnerId: a }, { limit: 100 });
    const ofB = await webhooks.listDeliveries({ role: "partner", partnerId: b }, { limit: 100 });
    expect(ofA.items.map((x) => x.tenantId)).toEqual([ta.tenantId, ta.tenantId]);
    expect(ofB.items.map((x) => x.tenantId)).toEqual([tb.tenantId]);
    // Asking for another partner's tenant gives nothing.
    expect(
      (
        await webhooks.listDeliveries(
          { role: "partner", partnerId: b },
          { limit: 100, tenantId: ta.tenantId },
        )
      ).items,
    ).toEqual([]);
    await expect(
      webhooks.replayDelivery({ role: "partner", partnerId: b }, ofA.items[0]!.deliveryId, now()),
    ).rejects.toBeInstanceOf(WebhookNotFoundError);
    await expect(
      webhooks.replayDelivery({ role: "partner", partnerId: b }, "dlv_nope", now()),
    ).rejects.toBeInstanceOf(WebhookNotFoundError);

    const all = await webhooks.listDeliveries({ role: "ops" }, { limit: 100 });
    const ids = all.items.map((x) => x.deliveryId);
    for (const x of [...ofA.items, ...ofB.items]) expect(ids).toContain(x.deliveryId);
    // Newest first across partners.
    const created = all.items.map((x) => x.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it("pages newest first with cursors bound to the list they came from", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    await endpointFor(webhooks, partnerId, r);
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING);
    await d.idle();
    const principal = { role: "partner" as const, partnerId };
    const first = await webhooks.listDeliveries(principal, { limit: 2 });
    const second = await webhooks.listDeliveries(principal, { limit: 2, cursor: first.nextCursor! });
    const third = await webhooks.listDeliveries(principal, { limit: 2, cursor: second.nextCursor! });
    expect([...first.items, ...second.items, ...third.items].map((x) => x.sequence)).toEqual([5, 4, 3, 2, 1]);
    expect(third.nextCursor).toBeUndefined();
    const other = { role: "partner" as const, partnerId: newPartner() };
    await expect(
      webhooks.listDeliveries(other, { limit: 2, cursor: first.nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    const byTenant = await webhooks.listDeliveries(principal, { limit: 3, tenantId });
    const rest = await webhooks.listDeliveries(principal, {
      limit: 3,
      tenantId,
      cursor: byTenant.nextCursor!,
    });
    expect([...byTenant.items, ...rest.items].map((x) => x.sequence)).toEqual([5, 4, 3, 2, 1]);
  });
});

describe("crash recovery", () => {
  it("delivers events that were stored but never dispatched (the process died in between)", async () => {
    const r = await receiver();
    const partnerId = newPartner();
    // The first process: endpoint saved, events stored, nothing dispatched.
    const webhooks = service(dispatcher());
    await endpointFor(webhooks, partnerId, r);
    current = undefined;
    const { tenantId, events } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 3));
    expect(r.received).toHaveLength(0);

    // The next process.
    const d = dispatcher();
    const report = await d.recover();
    expect(report.events).toBeGreaterThanOrEqual(3);
    await d.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2, 3]);
    expect(r.received.map((x) => x.headers["webhook-id"])).toEqual(events.map((e) => e.id));

    // Recovering again sends nothing twice: the dispatch cursor moved past them.
    const again = dispatcher();
    await again.recover();
    await again.idle();
    expect(r.received).toHaveLength(3);
  });

  it("resumes a delivery that was mid-retry when the process stopped", async () => {
    const r = await receiver();
    r.respond = (_body, nth) => ({ status: nth === 1 ? 500 : 200 });
    const partnerId = newPartner();
    // The first process stops right after the first failed attempt was recorded.
    const first: LocalDispatcher = dispatcher({ onAttempt: () => void first.close() });
    const webhooks = service(first);
    await endpointFor(webhooks, partnerId, r);
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 2));
    await first.close();
    const [waiting] = (await deliveriesOf(webhooks, partnerId, tenantId)).filter((x) => x.sequence === 1);
    expect(waiting).toMatchObject({ status: "pending", attempts: 1 });
    expect(r.received).toHaveLength(1);

    const next = dispatcher();
    const report = await next.recover();
    expect(report.pendingDeliveries + report.events).toBeGreaterThanOrEqual(2);
    await next.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1, 2]);
    expect(r.received.map((x) => x.payload?.data.sequence)).toEqual([1, 1, 2]);
  });
});

describe("endpoint", () => {
  it("returns a whsec_ secret on create and rotation only; a rotated secret overlaps", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    const created = await webhooks.putEndpoint(partnerId, { url: r.url }, now());
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.secret!.slice(6), "base64")).toHaveLength(32);
    expect(created.endpoint.events).toHaveLength(EVENT_TYPES.length);
    const replaced = await webhooks.putEndpoint(
      partnerId,
      { url: r.url, events: ["tenant.onboarding.failed"] },
      now(),
    );
    expect(replaced.secret).toBeUndefined();
    expect(replaced.endpoint.createdAt).toBe(created.endpoint.createdAt);
    expect(JSON.stringify(await webhooks.getEndpoint(partnerId))).not.toContain("whsec_");

    const rotated = await webhooks.putEndpoint(partnerId, { url: r.url, rotateSecret: true }, now());
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    // During the overlap, deliveries verify with either secret.
    r.secret = rotated.secret!;
    await tenantWithEvents(partnerId, ONBOARDING.slice(0, 1));
    await d.idle();
    const [delivery] = r.received;
    expect(delivery!.payload).toBeDefined();
    expect((delivery!.headers["webhook-signature"] as string).split(" ")).toHaveLength(2);
    expect(() =>
      new Webhook(created.secret!).verify(delivery!.body, delivery!.headers as Record<string, string>),
    ).not.toThrow();

    await webhooks.deleteEndpoint(partnerId);
    await expect(webhooks.getEndpoint(partnerId)).rejects.toBeInstanceOf(WebhookNotFoundError);
    await expect(webhooks.deleteEndpoint(partnerId)).rejects.toBeInstanceOf(WebhookNotFoundError);
  });

  it("does not deliver events from before the endpoint existed", async () => {
    const d = dispatcher();
    const webhooks = service(d);
    const r = await receiver();
    const partnerId = newPartner();
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 1));
    await d.idle();
    await endpointFor(webhooks, partnerId, r);
    await db.store.transition(tenantId, ONBOARDING[1]!, now());
    await d.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([2]);
  });
});

describe("partners without an endpoint", () => {
  it("a remembered missing endpoint is forgotten by the endpoint's write: the next event is delivered", async () => {
    const webhooks = createLocalWebhooks({
      docClient: db.docClient,
      tableName: db.tableName,
      retrySchedule: [],
      logger: { warn: () => {}, error: () => {} },
    });
    cleanups.push(() => webhooks.dispatcher.close());
    current = webhooks.dispatcher;
    const r = await receiver();
    const partnerId = newPartner();
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 2));
    await webhooks.dispatcher.idle();
    expect(webhooks.webhookStore.knownWithoutEndpoint(partnerId)).toBe(true);

    r.secret = (await webhooks.service.putEndpoint(partnerId, { url: r.url }, now())).secret!;
    expect(webhooks.webhookStore.knownWithoutEndpoint(partnerId)).toBe(false);
    await db.store.transition(tenantId, ONBOARDING[2]!, now());
    await webhooks.dispatcher.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([3]);

    // Deleted: remembered missing again after the next read, delivered again after the next PUT.
    await webhooks.service.deleteEndpoint(partnerId);
    await db.store.transition(tenantId, ONBOARDING[3]!, now());
    await webhooks.dispatcher.idle();
    expect(webhooks.webhookStore.knownWithoutEndpoint(partnerId)).toBe(true);
    r.secret = (await webhooks.service.putEndpoint(partnerId, { url: r.url }, now())).secret!;
    await db.store.transition(tenantId, ONBOARDING[4]!, now());
    await webhooks.dispatcher.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([3, 5]);
  });

  it("a read that saw no endpoint before a write through the store is not remembered", async () => {
    // Reads answer only when let go: this one saw the table before the endpoint's write.
    const gate = Promise.withResolvers<void>();
    const fetched = Promise.withResolvers<void>();
    const slow = {
      send: async (command: object) => {
        const out = await db.docClient.send(command as GetCommand);
        if (command instanceof GetCommand) {
          fetched.resolve();
          await gate.promise;
        }
        return out;
      },
    } as unknown as DynamoDBDocumentClient;
    const store = new DynamoWebhookStore({
      client: slow,
      tableName: db.tableName,
      rememberMissingEndpointsMs: 60_000,
    });
    const partnerId = newPartner();
    const read = store.getEndpoint(partnerId);
    // The table was read (before the write below); the answer waits at the gate.
    await fetched.promise;
    await webhookStore.createEndpoint({
      partnerId,
      url: "https://hooks.example/x",
      events: [...EVENT_TYPES],
      secret: "whsec_x",
      createdAt: now(),
      updatedAt: now(),
    });
    // Written through another instance: this one cannot know, and remembers (until its TTL).
    gate.resolve();
    expect(await read).toBeUndefined();
    expect(store.knownWithoutEndpoint(partnerId)).toBe(true);

    // Written through this instance while a read is out: not remembered.
    const other = newPartner();
    const gate2 = Promise.withResolvers<void>();
    const fetched2 = Promise.withResolvers<void>();
    const slow2 = {
      send: async (command: object) => {
        const out = await db.docClient.send(command as GetCommand);
        if (command instanceof GetCommand) {
          fetched2.resolve();
          await gate2.promise;
        }
        return out;
      },
    } as unknown as DynamoDBDocumentClient;
    const store2 = new DynamoWebhookStore({
      client: slow2,
      tableName: db.tableName,
      rememberMissingEndpointsMs: 60_000,
    });
    const read2 = store2.getEndpoint(other);
    // The table was read (before the write below); the answer waits at the gate.
    await fetched2.promise;
    await store2.createEndpoint({
      partnerId: other,
      url: "https://hooks.example/y",
      events: [...EVENT_TYPES],
      secret: "whsec_y",
      createdAt: now(),
      updatedAt: now(),
    });
    gate2.resolve();
    expect(await read2).toBeUndefined();
    expect(store2.knownWithoutEndpoint(other)).toBe(false);
    expect((await store2.getEndpoint(other))?.url).toBe("https://hooks.example/y");
  });

  it("events without a delivery move the dispatch cursor by close at the latest; a new process sends nothing", async () => {
    const partnerId = newPartner();
    const d = dispatcher({ cursorLagMs: 60_000 });
    const { tenantId } = await tenantWithEvents(partnerId, ONBOARDING.slice(0, 3));
    await d.idle();
    await d.close();
    expect(await webhookStore.getDispatchCursor(tenantId)).toBe(3);

    // Lagging cursors are written within cursorLagMs too.
    const quick = dispatcher({ cursorLagMs: 20 });
    await db.store.transition(tenantId, ONBOARDING[3]!, now());
    await quick.idle();
    await until(async () => (await webhookStore.getDispatchCursor(tenantId)) === 4);
    await quick.close();

    // The workflow's last event (succeeded) moves it at once.
    const slow = dispatcher({ cursorLagMs: 60_000 });
    await db.store.transition(tenantId, ONBOARDING[4]!, now());
    await slow.idle();
    expect(await webhookStore.getDispatchCursor(tenantId)).toBe(5);
  });
});

describe("local wiring", () => {
  it("createLocalWebhooks: the store's onEvents feeds the dispatcher, the service replays through it", async () => {
    const webhooks = createLocalWebhooks({
      docClient: db.docClient,
      tableName: db.tableName,
      retrySchedule: [],
      logger: { warn: () => {}, error: () => {} },
    });
    cleanups.push(() => webhooks.dispatcher.close());
    const store = new DynamoTenantStore({
      client: db.docClient,
      tableName: db.tableName,
      onEvents: webhooks.dispatcher.enqueue,
    });
    webhooks.dispatcher.attachStore(store);
    await webhooks.dispatcher.recover();

    const r = await receiver();
    r.respond = (_body, nth) => ({ status: nth === 1 ? 500 : 200 });
    const partnerId = newPartner();
    r.secret = (await webhooks.service.putEndpoint(partnerId, { url: r.url }, now())).secret!;
    const tenantId = randomUUID();
    await store.registerTenant(partnerId, request(tenantId), now());
    await store.transition(tenantId, ONBOARDING[0]!, now());
    await webhooks.dispatcher.idle();
    const [failed] = (await webhooks.service.listDeliveries({ role: "ops" }, { limit: 1, tenantId })).items;
    expect(failed).toMatchObject({ status: "failed", lastResponseStatus: 500 });
    await webhooks.service.replayDelivery({ role: "partner", partnerId }, failed!.deliveryId, now());
    await webhooks.dispatcher.idle();
    expect(r.deliveredSequences(tenantId)).toEqual([1]);
  });
});
