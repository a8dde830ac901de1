/**
 * The whole service end to end, as a partner sees it, on either form (test/support/form.ts): an onboarding through the HTTP API,
 * every webhook event at a real receiver with a valid Standard Webhooks signature and in
 * sequence order, and no secret, token or key anywhere in the log output.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAjv } from "./support/api.ts";
import { type FormHandle, type Json, slower, startForm } from "./support/form.ts";

interface Received {
  id: string;
  payload: Json;
  verified: boolean;
}

let rt: FormHandle;
let output = "";
const writes = { out: process.stdout.write, err: process.stderr.write };
let receiver: ReturnType<typeof createServer>;
let receiverUrl = "";
const received: Received[] = [];
let secret = "";

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

beforeAll(async () => {
  // Everything the service logs, from here on, is kept for the secret scan.
  // (kept, not echoed: the JSON lines would drown the test report)
  const capture = (chunk: unknown): boolean => {
    output += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  process.env["POWERTOOLS_LOG_LEVEL"] = "INFO";
  rt = await startForm({ logLevel: "INFO" });
  receiver = createServer(async (req, res) => {
    const body = await readBody(req);
    let verified = false;
    let payload: Json;
    try {
      payload = new Webhook(secret).verify(body, req.headers as Record<string, string>);
      verified = true;
    } catch {
      payload = JSON.parse(body);
    }
    received.push({ id: String(req.headers["webhook-id"]), payload, verified });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  await rt?.close();
  receiver?.close();
  process.stdout.write = writes.out;
  process.stderr.write = writes.err;
});

describe("a partner's onboarding, end to end", () => {
  it("delivers every event, signed and in order, and never logs a secret", async () => {
    const partner = await rt.createPartner("E2E MSP");
    const put = await rt.call("PUT", "/v1/webhook", { key: partner.apiKey, body: { url: receiverUrl } });
    expect(put.status).toBe(200);
    secret = put.body.secret;
    expect(secret).toMatch(/^whsec_/);

    const tenantId = await rt.onboard(partner.apiKey);
    const tenant = await rt.waitFor(tenantId, ["succeeded", "failed"]);
    expect(tenant.status).toBe("succeeded");

    const { body: history } = await rt.call("GET", `/v1/tenants/${tenantId}/events`, { key: partner.apiKey });
    const events: Json[] = history.items;
    expect(events.map((e) => e.data.sequence)).toEqual(events.map((_: unknown, i: number) => i + 1));

    const deadline = Date.now() + 15_000 * slower;
    while (new Set(received.map((r) => r.id)).size < events.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(received.every((r) => r.verified)).toBe(true);
    // In sequence order, each event once (at least once; here nothing failed, so exactly once).
    expect(received.map((r) => r.payload.data.sequence)).toEqual(events.map((e) => e.data.sequence));
    expect(received.map((r) => r.id)).toEqual(events.map((e) => e.id));
    expect(received.map((r) => r.payload.type)).toEqual(events.map((e) => e.type));
    expect(received[0]?.payload).toMatchObject({
      type: "tenant.onboarding.started",
      data: { tenantId, status: "running", sequence: 1 },
    });
    expect(received.at(-1)?.payload).toMatchObject({
      type: "tenant.onboarding.succeeded",
      data: { tenantId, status: "succeeded" },
    });

    // Every body matches the webhook payload the OpenAPI document describes (its `webhooks`).
    const { body: doc } = await rt.call("GET", "/v1/openapi.json", { key: partner.apiKey });
    expect(doc.webhooks.tenantEvent.post.requestBody.content["application/json"].schema.$ref).toBe(
      "#/components/schemas/WebhookPayload",
    );
    const ajv = createAjv();
    ajv.addSchema({ ...doc, $id: "https://api.test/openapi.json" });
    const validPayload = ajv.compile({
      $ref: "https://api.test/openapi.json#/components/schemas/WebhookPayload",
    });
    for (const r of received) expect(validPayload(r.payload), JSON.stringify(validPayload.errors)).toBe(true);

    // The receiver has every body, but a delivery is marked succeeded only once its answer is
    // back with the dispatcher: the last one may still be in flight.
    await rt.deliveriesIdle();
    const { body: deliveries } = await rt.call("GET", "/v1/webhook/deliveries", { key: partner.apiKey });
    expect(deliveries.items.length).toBe(events.length);
    expect(deliveries.items.every((d: Json) => d.status === "succeeded")).toBe(true);

    // The log output is real (it names the tenant) and holds no secret of any kind: this
    // process's output on the local form, the form's log (every function's lines) on the AWS form.
    await rt.idle();
    output += rt.logs() ?? "";
    expect(output).toContain(tenantId);
    expect(output).toContain("tenant event");
    const secrets = {
      opsKey: rt.opsKey,
      partnerKey: partner.apiKey,
      webhookSecret: secret.slice("whsec_".length),
      m365ClientSecret: rt.simulator.clientSecret,
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(output.includes(value), `${name} appears in the logs`).toBe(false);
    }
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.eyJ/); // an access token (JWT)
    expect(output).not.toMatch(/Bearer\s+\S{8,}/i);
  });
});
