/**
 * Webhooks and drift on the AWS form, over HTTP only: a receiver that fails an attempt gets it
 * again after the dispatcher's retry delay (ChangeMessageVisibility) and every event still in
 * sequence order; a message that is not a delivery is dropped, not retried into the
 * dead-letter queue; the drift schedule's EventBridge rule, fired once per tick over a whole
 * interval, checks each onboarded tenant exactly once.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextTickOf } from "../../functions/domain/drift-ticks.ts";
import { AwsForm, type Json } from "./support/form.ts";

let form: AwsForm;
let receiver: Server;
const attempts: Json[] = [];
let failNext = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      attempts.push(JSON.parse(body));
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end();
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  form = new AwsForm();
  await form.start();
});
afterAll(async () => {
  await form?.close();
  receiver?.close();
});

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

describe("webhooks on the AWS form", () => {
  it("retries a failed attempt after the delay and keeps the tenant's events in order", async () => {
    const partner = await form.createPartner("Hooks MSP");
    const { port } = receiver.address() as { port: number };
    expect(
      (
        await form.call("PUT", "/v1/webhook", {
          key: partner.apiKey,
          body: { url: `http://127.0.0.1:${port}/h` },
        })
      ).status,
    ).toBe(200);
    failNext = 1; // the tenant's first event fails once
    const { tenantId } = await form.onboard(partner.apiKey);
    await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 120_000);
    const events = (await form.call("GET", `/v1/tenants/${tenantId}/events`, { key: partner.apiKey })).body
      .items;
    const delivered = () => {
      const ok = attempts.filter((a) => a.data?.tenantId === tenantId);
      // the failed attempt is the first; every later one succeeded
      return ok.slice(1);
    };
    await until("every event delivered", async () => delivered().length >= events.length, 90_000);
    const ofTenant = attempts.filter((a) => a.data?.tenantId === tenantId);
    expect(ofTenant[0].data.sequence).toBe(ofTenant[1].data.sequence); // the same event, again
    expect(delivered().map((a) => a.data.sequence)).toEqual(events.map((e: Json) => e.data.sequence));
    const stats = await form.stats();
    expect(stats.calls["sqs:ChangeMessageVisibilityBatch"]).toBeGreaterThan(0);
    expect(stats.refusals).toEqual([]);
  });

  it("drops a message that is not a delivery (no retries into the dead-letter queue)", async () => {
    const before = (await form.stats()).lambda["WebhooksDispatcher0328C322"]!.invocations;
    const sent = await form.control("send-message", {
      queue: "JournalOnboarding-WebhooksQueueCBC86013.fifo",
      body: "not json",
      group: "bad",
    });
    expect(sent.id).toEqual(expect.any(String));
    await until("the dispatcher took it", async () => {
      const s = await form.stats();
      return (
        s.lambda["WebhooksDispatcher0328C322"]!.invocations > before &&
        s.queues["WebhooksQueueCBC86013"] === 0
      );
    });
    expect((await form.stats()).queues["WebhooksDeadLetterQueue1C65998B"]).toBe(0);
  });
});

describe("drift on the AWS form", () => {
  let checks = Number.NaN;

  it("fires the drift schedule's rule once per tick of an interval: the fan-out runs each time, unrefused", async () => {
    const partner = await form.createPartner("Drift MSP");
    const { tenantId } = await form.onboard(partner.apiKey);
    expect((await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 120_000)).status).toBe(
      "succeeded",
    );
    // What one check reads in the tenant (an on-demand one).
    const reads = async () => (await form.sim.calls(tenantId)).length;
    const before = await reads();
    await form.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: partner.apiKey });
    await until("the on-demand check", async () =>
      Boolean((await form.tenant(tenantId, partner.apiKey)).drift?.checkedAt),
    );
    // The check's run has ended (a fixed 1 s could end before its last read on a loaded machine).
    await form.control("workflows-idle", { tenant: tenantId });
    const perCheck = (await reads()) - before;
    expect(perCheck).toBeGreaterThan(0);
    const fanOut = async () => (await form.stats()).lambda["WorkflowDriftFanOutDA61970A"]!.invocations;
    const fanOutBefore = await fanOut();
    // 6 h in 72 ticks of 5 minutes, each firing with its own scheduled time: one interval of
    // ticks, all after the tenant became due, its own tick the 11th (so the 3 ticks before the
    // first, which each firing catches up, are not its).
    const sixHours = 6 * 3_600_000;
    const start = nextTickOf(tenantId, sixHours, Date.now() + 3_600_000) - 10 * 300_000;
    const afterOnDemand = await reads();
    for (let i = 0; i < 72; i++) {
      const time = new Date(start + i * 300_000).toISOString();
      await form.control("fire-rule", { rule: "WorkflowDriftCheckTickC2F18183", time });
    }
    // Each firing answers once its fan-out is done; the checks it started run on: wait for them
    // (a fixed 3 s could end before the tenant's check had made all its reads).
    await form.control("workflows-idle", { tenant: tenantId });
    expect((await fanOut()) - fanOutBefore).toBe(72);
    expect((await form.stats()).refusals).toEqual([]);
    checks = ((await reads()) - afterOnDemand) / perCheck;
  });

  // The drift schedule's defect (issue 22): the fan-out took its tick from the wall clock, not
  // from the scheduled event's time, so a tenant was checked 0 times (or 72) over an interval's
  // firings.
  it("checks each onboarded tenant exactly once over those firings", () => {
    expect(checks).toBe(1);
  });
});
