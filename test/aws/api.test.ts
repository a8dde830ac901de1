/**
 * The API on the AWS form, over HTTP only: the authorizer (no key, a wrong key), partners kept
 * apart (one never sees another's tenant), Idempotency-Key replays, and each partner's API key
 * registered with API Gateway's usage plan (CreateApiKey, CreateUsagePlanKey) as the stack does.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm } from "./support/form.ts";

let form: AwsForm;
beforeAll(async () => {
  form = new AwsForm();
  await form.start();
});
afterAll(async () => {
  await form?.close();
});

describe("the API on the AWS form", () => {
  it("refuses a request without a key or with a wrong one", async () => {
    expect((await form.call("GET", "/v1/tenants")).status).toBe(401);
    expect(
      (await form.call("GET", "/v1/tenants", { key: "jok_not-a-key-of-anyone-at-all-000000" })).status,
    ).toBe(401);
  });

  it("keeps partners apart and registers each partner's key in the usage plan", async () => {
    const calls = (await form.stats()).calls;
    const a = await form.createPartner("A MSP");
    const b = await form.createPartner("B MSP");
    const { tenantId } = await form.onboard(a.apiKey);
    expect((await form.call("GET", `/v1/tenants/${tenantId}`, { key: a.apiKey })).status).toBe(200);
    expect((await form.call("GET", `/v1/tenants/${tenantId}`, { key: b.apiKey })).status).toBe(404);
    const listed = await form.call("GET", "/v1/tenants", { key: b.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    const after = (await form.stats()).calls;
    expect((after["apigateway:POST /apikeys"] ?? 0) - (calls["apigateway:POST /apikeys"] ?? 0)).toBe(2);
    const planKeys = (c: Record<string, number>) =>
      Object.entries(c)
        .filter(([k]) => /^apigateway:POST \/usageplans\/[^/]+\/keys$/.test(k))
        .reduce((sum, [, n]) => sum + n, 0);
    expect(planKeys(after) - planKeys(calls)).toBe(2);
  });

  it("answers a replay of the same Idempotency-Key with the first answer, creating one tenant", async () => {
    const partner = await form.createPartner("Idem MSP");
    const tenantId = randomUUID();
    const demo = await form.sim.demo(tenantId);
    const key = randomUUID();
    const post = () =>
      form.call("POST", "/v1/tenants", {
        key: partner.apiKey,
        headers: { "idempotency-key": key },
        body: { tenantId, customerName: "idem", region: "us", ndrAddress: demo.admin },
      });
    const first = await post();
    const second = await post();
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    const listed = await form.call("GET", "/v1/tenants", { key: partner.apiKey });
    expect(listed.body.items.map((t: { tenantId: string }) => t.tenantId)).toEqual([tenantId]);
    expect((await form.stats()).refusals).toEqual([]);
  });

  // Issue 22: consent states (and cursors) were signed with a key derived from the ops key once
  // per container, so a rotation broke the links issued before it; they have a signing secret of
  // their own now.
  it("a consent link issued before an ops-key rotation still works after it", async () => {
    const partner = await form.createPartner("Rotation MSP");
    const tenantId = randomUUID();
    const demo = await form.sim.demo(tenantId);
    const posted = await form.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: { tenantId, customerName: "rotated", region: "us", ndrAddress: demo.admin },
    });
    expect(posted.status).toBe(202);
    const rotated = await form.control("put-secret", {
      secret: "ApiOpsApiKeyA26782D6",
      value: `ops-${randomUUID()}`,
    });
    expect(rotated.put).toBe("ApiOpsApiKeyA26782D6");
    // New containers serve from now on (as after a deploy or a quiet hour).
    await form.control("kill-environments", { function: "ApiHandler8AD6A8DF" });
    expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
  });

  it("stops on SIGTERM with exit code 0 and the DATA_DIR lock released; the next start keeps partners and keys", async () => {
    const partner = await form.createPartner("Restart MSP");
    expect(await form.stop()).toBe(0);
    expect(existsSync(join(form.dataDir, "service.pid"))).toBe(false);
    await form.start();
    expect((await form.call("GET", "/v1/tenants", { key: partner.apiKey })).status).toBe(200);
    expect((await form.call("GET", "/health")).status).toBe(200);
  });
});
