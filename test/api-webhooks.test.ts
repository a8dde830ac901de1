/**
 * The `/v1/webhook*` routes on the real webhook service (local wiring: dynalite, in-process
 * dispatcher) with a real receiver on 127.0.0.1 that verifies Standard Webhooks signatures.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLocalWebhooks, type LocalWebhooks } from "../functions/webhooks/index.ts";
import { newTenantId, onboardingBody, startTestApi, type TestApi } from "./support/api.ts";

interface Received {
  type: string;
  tenantId: string;
  verified: boolean;
}

class Receiver {
  readonly received: Received[] = [];
  secret = "";
  #server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let verified = true;
        try {
          new Webhook(this.secret).verify(body, req.headers as Record<string, string>);
        } catch {
          verified = false;
        }
        const parsed = JSON.parse(body) as { type: string; data: { tenantId: string } };
        this.received.push({ type: parsed.type, tenantId: parsed.data.tenantId, verified });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

let t: TestApi;
let webhooks: LocalWebhooks;
let receiver: Receiver;
let a: { partnerId: string; key: string };
let b: { partnerId: string; key: string };

beforeAll(async () => {
  t = await startTestApi({
    storeOptions: { onEvents: (events, partnerId) => webhooks.dispatcher.enqueue(events, partnerId) },
    extra: (table) => {
      webhooks = createLocalWebhooks({
        docClient: table.docClient,
        tableName: table.tableName,
        retrySchedule: [20, 20],
        timeoutMs: 5_000,
        logger: { warn: () => {}, error: () => {} },
      });
      webhooks.dispatcher.attachStore(table.store);
      return { webhooks: webhooks.service };
    },
  });
  receiver = await new Receiver().start();
  a = await t.newPartner("Partner A");
  b = await t.newPartner("Partner B");
});

afterAll(async () => {
  await webhooks.dispatcher.close();
  await receiver.stop();
});

async function emitFailure(tenantId: string) {
  const now = new Date().toISOString();
  await t.store.transition(
    tenantId,
    { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
    now,
  );
  await t.store.transition(
    tenantId,
    {
      status: "failed",
      expectStatus: ["running"],
      error: { code: "M365_ACCESS_DENIED", message: "denied" },
      event: { type: "tenant.onboarding.failed", error: { code: "M365_ACCESS_DENIED", message: "denied" } },
    },
    now,
  );
}

describe("webhook endpoint", () => {
  it("is created by PUT (secret shown once), read by GET, rotated on request, removed by DELETE", async () => {
    const partner = await t.newPartner();
    expect((await t.call("GET", "/v1/webhook", { key: partner.key })).status).toBe(404);
    const created = await t.call("PUT", "/v1/webhook", { key: partner.key, body: { url: receiver.url } });
    expect(created.status).toBe(200);
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(created.body.events).toContain("tenant.onboarding.succeeded");

    const narrowed = await t.call("PUT", "/v1/webhook", {
      key: partner.key,
      body: { url: receiver.url, events: ["tenant.onboarding.failed"] },
    });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.secret).toBeUndefined();
    const read = await t.call("GET", "/v1/webhook", { key: partner.key });
    expect(read.body).toMatchObject({ url: receiver.url, events: ["tenant.onboarding.failed"] });
    expect(read.body.secret).toBeUndefined();

    const rotated = await t.call("PUT", "/v1/webhook", {
      key: partner.key,
      body: { url: receiver.url, rotateSecret: true },
    });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);

    expect((await t.call("DELETE", "/v1/webhook", { key: partner.key })).status).toBe(204);
    expect((await t.call("DELETE", "/v1/webhook", { key: partner.key })).status).toBe(404);
  });

  it("refuses bad endpoints with field errors, and ops keys with 403", async () => {
    const bad: [unknown, string][] = [
      [{ url: "not a url" }, "/body/url"],
      [{ url: "ftp://hooks.example/x" }, "/body/url"],
      [{ url: receiver.url, events: [] }, "/body/events"],
      [{ url: receiver.url, events: ["tenant.created"] }, "/body/events/0"],
      [
        { url: receiver.url, events: ["tenant.onboarding.failed", "tenant.onboarding.failed"] },
        "/body/events",
      ],
      [{ url: receiver.url, secret: "whsec_mine" }, "/body/secret"],
      [{ url: "http://169.254.169.254/latest/meta-data" }, "/body/url"],
    ];
    for (const [body, pointer] of bad) {
      const res = await t.call("PUT", "/v1/webhook", { key: a.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors[0].pointer).toBe(pointer);
    }
    expect((await t.call("PUT", "/v1/webhook", { key: t.opsKey, body: { url: receiver.url } })).status).toBe(
      403,
    );
    expect((await t.call("GET", "/v1/webhook", { key: t.opsKey })).status).toBe(403);
  });
});

describe("deliveries", () => {
  it("lists a partner's own deliveries newest first, lets ops see all, and replays them", async () => {
    const put = await t.call("PUT", "/v1/webhook", { key: a.key, body: { url: receiver.url } });
    receiver.secret = put.body.secret;
    const tenantId = newTenantId();
    expect((await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) })).status).toBe(
      202,
    );
    await emitFailure(tenantId);
    await webhooks.dispatcher.idle();
    const mine = receiver.received.filter((r) => r.tenantId === tenantId);
    expect(mine.map((r) => r.type)).toEqual(["tenant.onboarding.started", "tenant.onboarding.failed"]);
    expect(mine.every((r) => r.verified)).toBe(true);

    const list = await t.call("GET", "/v1/webhook/deliveries", { key: a.key, query: { tenantId } });
    expect(list.status).toBe(200);
    expect(list.body.items.map((d: { type: string }) => d.type)).toEqual([
      "tenant.onboarding.failed",
      "tenant.onboarding.started",
    ]);
    expect(list.body.items.every((d: { status: string }) => d.status === "succeeded")).toBe(true);
    const paged = await t.call("GET", "/v1/webhook/deliveries", {
      key: a.key,
      query: { tenantId, limit: "1" },
    });
    expect(paged.body.items).toHaveLength(1);
    expect(paged.body.nextCursor).toBeDefined();

    const theirs = await t.call("GET", "/v1/webhook/deliveries", { key: b.key });
    expect(theirs.body.items.filter((d: { tenantId: string }) => d.tenantId === tenantId)).toEqual([]);
    // Filtered by A's tenant, B gets what a tenant that does not exist gives, and the tenant's
    // delivery history is not even read (ownership is checked first).
    const reads = vi.spyOn(webhooks.webhookStore, "listDeliveries");
    for (const id of [tenantId, newTenantId()]) {
      const filtered = await t.call("GET", "/v1/webhook/deliveries", { key: b.key, query: { tenantId: id } });
      expect(filtered.status).toBe(200);
      expect(filtered.body).toEqual({ items: [] });
    }
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
    const ops = await t.call("GET", "/v1/webhook/deliveries", { key: t.opsKey, query: { tenantId } });
    expect(ops.body.items).toHaveLength(2);

    const deliveryId = list.body.items[0].deliveryId as string;
    expect((await t.call("POST", `/v1/webhook/deliveries/${deliveryId}/replay`, { key: b.key })).status).toBe(
      404,
    );
    expect(
      (await t.call("POST", `/v1/webhook/deliveries/dlv_${newTenantId()}_1/replay`, { key: a.key })).status,
    ).toBe(404);
    const replay = await t.call("POST", `/v1/webhook/deliveries/${deliveryId}/replay`, { key: a.key });
    expect(replay.status).toBe(202);
    expect(replay.body.deliveryId).toBe(deliveryId);
    await webhooks.dispatcher.idle();
    expect(receiver.received.filter((r) => r.tenantId === tenantId).map((r) => r.type)).toEqual([
      "tenant.onboarding.started",
      "tenant.onboarding.failed",
      "tenant.onboarding.failed",
    ]);
    const bad = await t.call("POST", "/v1/webhook/deliveries/not%20an%20id/replay", { key: a.key });
    expect(bad.status).toBe(400);
  });
});
