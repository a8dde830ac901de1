/**
 * The README's walk-through on the deployed form (`npm run start:aws`), over HTTP only: a
 * partner, a tenant waiting for consent, the admin's consent through the link, onboarding
 * `succeeded` (Step Functions -> task Lambda -> simulator), its events, the webhook delivered
 * (table stream -> forwarder -> SQS FIFO -> dispatcher -> a receiver here) in sequence order,
 * drift found by a check, and DELETE ending `offboarded`; with no IAM refusal on the way.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm, type Json } from "./support/form.ts";

let form: AwsForm;
let receiver: Server;
const received: Json[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
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

describe("the README walk-through on the AWS form", () => {
  it("serves /health through the template's API within two minutes of the start", async () => {
    expect(form.startedInMs).toBeLessThan(120_000);
    const health = await form.call("GET", "/health");
    expect(health.status).toBe(200);
  });

  it("onboards a split tenant after consent, delivers its webhooks in order, finds drift, offboards it", async () => {
    const partner = await form.createPartner("Contoso MSP");
    const { port } = receiver.address() as { port: number };
    const hook = await form.call("PUT", "/v1/webhook", {
      key: partner.apiKey,
      body: { url: `http://127.0.0.1:${port}/hooks` },
    });
    expect(hook.status).toBe(200);

    const tenantId = randomUUID();
    const demo = await form.sim.demo(tenantId);
    const posted = await form.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      headers: { "idempotency-key": randomUUID() },
      body: {
        tenantId,
        customerName: "contoso",
        region: "split",
        outboundGateway: true,
        ndrAddress: demo.admin,
        groups: {
          eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
          us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
        },
      },
    });
    expect(posted.status).toBe(202);
    expect(posted.body.status).toBe("awaiting_consent");
    const consent = await form.consent(posted.body.consentUrl);
    expect(consent.status).toBe(200);
    const done = await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 120_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");

    const events = await form.call("GET", `/v1/tenants/${tenantId}/events`, { key: partner.apiKey });
    expect(events.body.items.at(-1).type).toBe("tenant.onboarding.succeeded");

    // Every event of the tenant reaches the receiver, in sequence order.
    const deadline = Date.now() + 60_000;
    const ofTenant = () => received.filter((e) => e.data?.tenantId === tenantId);
    while (ofTenant().length < events.body.items.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    const sequences = ofTenant().map((e) => e.data.sequence);
    expect(sequences).toEqual(events.body.items.map((e: Json) => e.data.sequence));

    // Drift: the US rule disabled behind the service's back is found by a check.
    await form.sim.tamper(tenantId, {
      action: "disable-journal-rule",
      name: "Journal Messages to CloudflareArea 1 (US)",
    });
    const checked = await form.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: partner.apiKey });
    expect(checked.status).toBe(202);
    let drift: Json;
    for (let i = 0; i < 240; i++) {
      drift = (await form.call("GET", `/v1/tenants/${tenantId}/drift`, { key: partner.apiKey })).body;
      if (drift?.inSync === false) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(drift.inSync).toBe(false);
    expect(drift.differences[0]).toMatchObject({
      step: "journal-rules",
      field: "enabled",
      expected: true,
      actual: false,
    });

    // Step 6: a distribution group as NDR address fails in check-access; PATCH, retry, succeeded.
    const badId = randomUUID();
    const badDemo = await form.sim.demo(badId);
    const badPost = await form.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: { tenantId: badId, customerName: "fabrikam", region: "us", ndrAddress: badDemo.group.address },
    });
    expect(badPost.status).toBe(202);
    expect((await form.consent(badPost.body.consentUrl)).status).toBe(200);
    const badFailed = await form.waitFor(badId, partner.apiKey, ["failed", "succeeded"], 120_000);
    expect(badFailed.error?.code).toBe("INVALID_NDR_ADDRESS");
    const patched = await form.call("PATCH", `/v1/tenants/${badId}`, {
      key: partner.apiKey,
      body: { ndrAddress: badDemo.admin },
    });
    expect(patched.status).toBe(200);
    expect((await form.call("POST", `/v1/tenants/${badId}/retry`, { key: partner.apiKey })).status).toBe(202);
    expect((await form.waitFor(badId, partner.apiKey, ["failed", "succeeded"], 120_000)).status).toBe(
      "succeeded",
    );

    const deleted = await form.call("DELETE", `/v1/tenants/${tenantId}`, { key: partner.apiKey });
    expect(deleted.status).toBe(202);
    const gone = await form.waitFor(tenantId, partner.apiKey, ["offboarded", "offboarding_failed"], 120_000);
    expect(gone.status).toBe("offboarded");

    const stats = await form.stats();
    expect(stats.refusals).toEqual([]);
    expect(stats.lambda["WorkflowWorkflowTaskFC450ECC"]?.invocations).toBeGreaterThan(0);
  });
});
