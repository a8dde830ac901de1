// The endpoints' circuit breaker (functions/webhooks/circuit-breaker.ts) against dynalite, with
// the real deliverer and a real HTTP receiver that can hang: a timeout opens it, an HTTP error
// answer does not, an attempt while it is open is a failed attempt made at once (no request),
// one probe goes out when it is half-open, and concurrent dispatchers agree on its state.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoWebhookStore } from "../functions/adapters/dynamodb/webhook-store.ts";
import { BASE_OPEN_MS } from "../functions/webhooks/circuit-breaker.ts";
import { WebhookDeliverer } from "../functions/webhooks/delivery.ts";
import { PartnerWebhookService } from "../functions/webhooks/service.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";
import { startedTenant } from "./support/started-tenant.ts";

const TIMEOUT_MS = 300;
let db: FreshTable;
let webhookStore: DynamoWebhookStore;
let server: Server;
let port = 0;
/** Per path: what the receiver does; every request is counted. */
const behaviour = new Map<string, "hang" | number>();
const requests: string[] = [];

beforeAll(async () => {
  db = await freshTable();
  webhookStore = new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName });
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    req.resume();
    const what = behaviour.get(req.url ?? "") ?? 200;
    if (what !== "hang") res.writeHead(what).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A partner whose endpoint is at `path`, and a clock the test moves. */
async function partnerAt(path: string, what: "hang" | number) {
  behaviour.set(path, what);
  const partnerId = `p_${randomUUID().slice(0, 8)}`;
  const webhooks = new PartnerWebhookService({
    webhookStore,
    replays: { queueReplay: async () => {} },
    allowInsecureLoopback: true,
  });
  await webhooks.putEndpoint(partnerId, { url: `http://127.0.0.1:${port}${path}` }, new Date().toISOString());
  const clock = { now: Date.now() + 1_000 };
  const deliverer = () =>
    new WebhookDeliverer({
      webhookStore,
      allowInsecureLoopback: true,
      retrySchedule: [5_000, 5_000, 5_000],
      timeoutMs: TIMEOUT_MS,
      clock: () => new Date(clock.now),
      random: () => 0.5,
      // A breaker write that fails is only logged by the deliverer: here it fails the test.
      logger: {
        warn: (m, f) => {
          throw new Error(`${m} ${JSON.stringify(f)}`);
        },
        error: (m, f) => console.error(m, f),
      },
    });
  return { partnerId, clock, deliverer, path };
}

/** A tenant of the partner with one stored event, admitted as a delivery. */
async function deliveryOf(partnerId: string, deliverer: WebhookDeliverer): Promise<string> {
  const { tenantId, event } = await startedTenant(db.store, partnerId);
  await deliverer.admit(event, partnerId);
  return tenantId;
}

const sentTo = (path: string) => requests.filter((r) => r === path).length;

describe("endpoint circuit breaker", () => {
  it("opens on a timeout: the next attempt fails at once without a request, and is scheduled as a retry", async () => {
    const p = await partnerAt("/hangs", "hang");
    const d = p.deliverer();
    const first = await deliveryOf(p.partnerId, d);
    const second = await deliveryOf(p.partnerId, d);

    const timedOut = await d.attempt(first, 1);
    expect(timedOut.delivery).toMatchObject({ status: "pending", error: { code: "WEBHOOK_TIMEOUT" } });
    const state = await webhookStore.breakers.get(p.partnerId);
    expect(state).toMatchObject({ url: `http://127.0.0.1:${port}/hangs`, opens: 1 });
    expect(state!.openUntil).toBeGreaterThanOrEqual(p.clock.now + BASE_OPEN_MS);

    const started = performance.now();
    const skipped = await d.attempt(second, 1);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
    expect(sentTo("/hangs")).toBe(1);
    expect(skipped).toMatchObject({ state: "waiting", until: p.clock.now + 5_000 });
    expect(skipped.delivery).toMatchObject({
      status: "pending",
      attempts: 1,
      error: { code: "WEBHOOK_ENDPOINT_UNRESPONSIVE" },
    });
    expect(skipped.delivery!.error!.message).toContain(new Date(state!.openUntil).toISOString());
  });

  it("does not open on an HTTP error answer, nor on a refused connection", async () => {
    const p = await partnerAt("/errors", 500);
    const d = p.deliverer();
    const tenantId = await deliveryOf(p.partnerId, d);
    const outcome = await d.attempt(tenantId, 1);
    expect(outcome.delivery).toMatchObject({ status: "pending", error: { code: "WEBHOOK_HTTP_ERROR" } });
    expect(await webhookStore.breakers.get(p.partnerId)).toBeUndefined();
    const again = await deliveryOf(p.partnerId, d);
    await d.attempt(again, 1);
    expect(sentTo("/errors")).toBe(2);

    // A refused connection fails in milliseconds and holds no slot.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await partnerAt("/refused", 200);
    await new PartnerWebhookService({
      webhookStore,
      replays: { queueReplay: async () => {} },
      allowInsecureLoopback: true,
    }).putEndpoint(refused.partnerId, { url: `http://127.0.0.1:${closedPort}/` }, new Date().toISOString());
    const r = refused.deliverer();
    const refusedOutcome = await r.attempt(await deliveryOf(refused.partnerId, r), 1);
    expect(refusedOutcome.delivery).toMatchObject({ error: { code: "WEBHOOK_CONNECTION_FAILED" } });
    expect(await webhookStore.breakers.get(refused.partnerId)).toBeUndefined();
  });

  it("half-open: concurrent attempts make one probe; its answer closes the breaker", async () => {
    const p = await partnerAt("/recovers", "hang");
    const d = p.deliverer();
    await d.attempt(await deliveryOf(p.partnerId, d), 1);
    expect(sentTo("/recovers")).toBe(1);
    const waiting = await Promise.all(Array.from({ length: 4 }, () => deliveryOf(p.partnerId, d)));

    // The endpoint answers again; the breaker's time passes; four dispatchers try at once.
    behaviour.set("/recovers", 200);
    p.clock.now += BASE_OPEN_MS + 1;
    const outcomes = await Promise.all(waiting.map((tenantId) => p.deliverer().attempt(tenantId, 1)));
    expect(sentTo("/recovers")).toBe(2);
    expect(outcomes.map((o) => o.delivery?.status).sort()).toEqual([
      "pending",
      "pending",
      "pending",
      "succeeded",
    ]);
    expect(
      outcomes.filter((o) => o.delivery?.status === "pending").map((o) => o.delivery!.error!.code),
    ).toEqual([
      "WEBHOOK_ENDPOINT_UNRESPONSIVE",
      "WEBHOOK_ENDPOINT_UNRESPONSIVE",
      "WEBHOOK_ENDPOINT_UNRESPONSIVE",
    ]);
    expect(await webhookStore.breakers.get(p.partnerId)).toBeUndefined();

    // Closed: the retries go out.
    p.clock.now += 5_000;
    await Promise.all(waiting.map((tenantId) => d.attempt(tenantId, 1)));
    expect(sentTo("/recovers")).toBe(5);
  });

  it("a PUT of the endpoint closes its breaker: the partner's next due attempt is sent, not held", async () => {
    const p = await partnerAt("/fixed", "hang");
    const d = p.deliverer();
    const url = `http://127.0.0.1:${port}/fixed`;
    await d.attempt(await deliveryOf(p.partnerId, d), 1);
    expect(await webhookStore.breakers.get(p.partnerId)).toMatchObject({ url, opens: 1 });
    const waiting = await deliveryOf(p.partnerId, d);

    // The partner fixes its server and PUTs the same URL again, long before the breaker's time.
    behaviour.set("/fixed", 200);
    const webhooks = new PartnerWebhookService({
      webhookStore,
      replays: { queueReplay: async () => {} },
      allowInsecureLoopback: true,
    });
    await webhooks.putEndpoint(p.partnerId, { url }, new Date().toISOString());
    expect(await webhookStore.breakers.get(p.partnerId)).toBeUndefined();
    p.clock.now += 5_000;
    expect((await d.attempt(waiting, 1)).delivery).toMatchObject({ status: "succeeded" });
    expect(sentTo("/fixed")).toBe(2);

    // A PUT of another URL closes it too: back on the first URL, nothing is held either.
    behaviour.set("/fixed", "hang");
    await d.attempt(await deliveryOf(p.partnerId, d), 1);
    expect(await webhookStore.breakers.get(p.partnerId)).toMatchObject({ url });
    await webhooks.putEndpoint(p.partnerId, { url: `${url}-v2` }, new Date().toISOString());
    expect(await webhookStore.breakers.get(p.partnerId)).toBeUndefined();
  });

  it("a probe that times out opens it again for twice as long", async () => {
    const p = await partnerAt("/still-hangs", "hang");
    const d = p.deliverer();
    await d.attempt(await deliveryOf(p.partnerId, d), 1);
    p.clock.now += BASE_OPEN_MS + 1;
    await d.attempt(await deliveryOf(p.partnerId, d), 1);
    expect(sentTo("/still-hangs")).toBe(2);
    const state = await webhookStore.breakers.get(p.partnerId);
    expect(state).toMatchObject({ opens: 2 });
    expect(state!.openUntil).toBeGreaterThanOrEqual(p.clock.now + 2 * BASE_OPEN_MS);
    expect(state!.probeUntil).toBeUndefined();
  });

  it("concurrent dispatchers agree: one probe claim wins, an opening never moves the time back", async () => {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const url = "https://hooks.example/x";
    const stores = Array.from(
      { length: 6 },
      () => new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName }).breakers,
    );
    const now = Date.now();
    await Promise.all(stores.map((s, i) => s.open(partnerId, url, now + 1_000 * (i + 1), 1)));
    expect((await stores[0]!.get(partnerId))!.openUntil).toBe(now + 6_000);
    expect(await stores[1]!.open(partnerId, url, now + 2_000, 1)).toBe(false);

    const claims = await Promise.all(
      stores.map((s) => s.claimProbe(partnerId, url, now + 7_000, now + 20_000)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    // Another URL (the partner PUT a new one) has no breaker: close leaves this one alone.
    await stores[2]!.close(partnerId, "https://hooks.example/other");
    expect(await stores[2]!.get(partnerId)).toMatchObject({ url, probeUntil: now + 20_000 });
  });
});
