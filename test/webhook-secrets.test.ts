// Local form only: it reads and plants endpoints in the local store (the AWS form's KMS box: test/aws/cloud.test.ts).
/**
 * Webhook secrets at rest: stored encrypted, opened only to sign, bound to their partner; a
 * secret stored in clear before encryption existed still signs (migration).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEAR_SECRETS, LocalSecretBox } from "../functions/webhooks/secret-box.ts";
import { generateWebhookSecret } from "../functions/webhooks/service.ts";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

describe("the local secret box", () => {
  const box = new LocalSecretBox(randomBytes(32));

  it("seals and opens for the same partner only; clear secrets open as they are", async () => {
    const secret = generateWebhookSecret();
    const sealed = await box.seal(secret, "p_a");
    expect(sealed).toMatch(/^aes:v1:/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(await box.open(sealed, "p_a")).toBe(secret);
    await expect(box.open(sealed, "p_b")).rejects.toThrow();
    await expect(new LocalSecretBox(randomBytes(32)).open(sealed, "p_a")).rejects.toThrow();
    expect(await box.open(secret, "p_a")).toBe(secret);
    await expect(CLEAR_SECRETS.open(sealed, "p_a")).rejects.toThrow();
  });
});

describe("the local runtime", () => {
  let rt: TestRuntime;
  let receiver: ReturnType<typeof createServer>;
  let url = "";
  const bodies: { body: string; headers: Record<string, string> }[] = [];

  beforeAll(async () => {
    rt = await startTestRuntime();
    receiver = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      bodies.push({
        body: Buffer.concat(chunks).toString("utf8"),
        headers: req.headers as Record<string, string>,
      });
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });
  afterAll(async () => {
    await rt?.close();
    receiver?.close();
  });

  it("stores the secret encrypted and signs with it; a clear secret of before still signs", async () => {
    const partner = await rt.createPartner("secrets");
    const put = await rt.call("PUT", "/v1/webhook", { key: partner.apiKey, body: { url } });
    const secret: string = put.body.secret;
    const stored = await rt.runtime.webhooks.webhookStore.getEndpoint(partner.partnerId);
    expect(stored?.secret).toMatch(/^aes:v1:/);
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6));

    const tenantId = await rt.onboard(partner.apiKey);
    await rt.waitFor(tenantId, ["succeeded"]);
    const deadline = Date.now() + 10_000;
    while (bodies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const first = bodies[0]!;
    expect(() => new Webhook(secret).verify(first.body, first.headers)).not.toThrow();

    // An endpoint written before encryption (secret in clear) keeps working.
    const clear = generateWebhookSecret();
    const other = await rt.createPartner("legacy");
    await rt.runtime.webhooks.webhookStore.createEndpoint({
      partnerId: other.partnerId,
      url,
      events: ["tenant.onboarding.succeeded"],
      secret: clear,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    });
    const legacyTenant = await rt.onboard(other.apiKey);
    await rt.waitFor(legacyTenant, ["succeeded"]);
    const ofLegacy = () => bodies.find((b) => JSON.parse(b.body).data.tenantId === legacyTenant);
    while (!ofLegacy() && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
    const legacy = ofLegacy()!;
    expect(JSON.parse(legacy.body).data.tenantId).toBe(legacyTenant);
    expect(() => new Webhook(clear).verify(legacy.body, legacy.headers)).not.toThrow();
  });
});
