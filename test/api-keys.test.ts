// Local form only: its runtime part tests the local per-partner limiter (AWS: usage plans, test/aws/api.test.ts).
/**
 * Partner API keys (several per partner, revocation) and per-partner request limits, through
 * the composed API (test/support/api.ts: every response validated against the OpenAPI
 * document) and through the local runtime over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opsKeyHashSource } from "../functions/api/auth.ts";
import { RateLimiter, rateLimitFromEnv } from "../functions/api/rate-limit.ts";
import { API_KEY_PATTERN, hashApiKey, OPS_KEY_PREFIX } from "../functions/domain/api-keys.ts";
import { newTenantId, onboardingBody, startTestApi, type TestApi } from "./support/api.ts";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

let t: TestApi;

beforeAll(async () => {
  t = await startTestApi();
});

describe("partner API keys", () => {
  it("a second key works beside the first; revoking one stops it at once, the other keeps working", async () => {
    const created = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name: "Rotating MSP" } });
    expect(created.status).toBe(201);
    const { partnerId, apiKey: first, keyId: firstId } = created.body;
    expect(firstId).toMatch(/^key_/);

    const second = await t.call("POST", `/v1/partners/${partnerId}/keys`, { key: t.opsKey });
    expect(second.status).toBe(201);
    expect(Object.keys(second.body).sort()).toEqual(["apiKey", "createdAt", "keyId"]);
    expect(second.body.apiKey).toMatch(API_KEY_PATTERN);
    expect(second.body.apiKey).not.toBe(first);

    for (const key of [first, second.body.apiKey]) {
      expect((await t.call("GET", "/v1/tenants", { key })).status).toBe(200);
    }
    const listed = await t.call("GET", `/v1/partners/${partnerId}/keys`, { key: t.opsKey });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((k: { keyId: string }) => k.keyId).sort()).toEqual(
      [firstId, second.body.keyId].sort(),
    );
    // Ids and dates only: neither the key nor its hash is listed.
    expect(JSON.stringify(listed.body)).not.toContain(first.slice(4, 20));
    expect(JSON.stringify(listed.body)).not.toContain(hashApiKey(first));

    const revoked = await t.call("DELETE", `/v1/partners/${partnerId}/keys/${firstId}`, { key: t.opsKey });
    expect(revoked.status).toBe(204);
    expect((await t.call("GET", "/v1/tenants", { key: first })).status).toBe(401);
    expect(
      (await t.call("POST", "/v1/tenants", { key: first, body: onboardingBody(newTenantId()) })).status,
    ).toBe(401);
    expect((await t.call("GET", "/v1/tenants", { key: second.body.apiKey })).status).toBe(200);
    expect(await t.store.findApiKey(hashApiKey(first))).toBeUndefined();
    const after = await t.call("GET", `/v1/partners/${partnerId}/keys`, { key: t.opsKey });
    expect(after.body.items.map((k: { keyId: string }) => k.keyId)).toEqual([second.body.keyId]);

    // Revoking again, or a key of another partner, is a 404.
    expect(
      (await t.call("DELETE", `/v1/partners/${partnerId}/keys/${firstId}`, { key: t.opsKey })).status,
    ).toBe(404);
    const other = await t.newPartner("Other MSP");
    expect(
      (await t.call("DELETE", `/v1/partners/${other.partnerId}/keys/${second.body.keyId}`, { key: t.opsKey }))
        .status,
    ).toBe(404);
  });

  it("404 for an unknown partner; 403 for partner keys, their own partner included", async () => {
    for (const [method, path] of [
      ["POST", "/v1/partners/p_unknown/keys"],
      ["GET", "/v1/partners/p_unknown/keys"],
      ["DELETE", "/v1/partners/p_unknown/keys/key_0"],
    ] as const) {
      expect((await t.call(method, path, { key: t.opsKey })).status, `${method} ${path}`).toBe(404);
    }
    const a = await t.newPartner("A");
    const b = await t.newPartner("B");
    for (const { partnerId } of [a, b]) {
      expect((await t.call("POST", `/v1/partners/${partnerId}/keys`, { key: a.key })).status).toBe(403);
      expect((await t.call("GET", `/v1/partners/${partnerId}/keys`, { key: a.key })).status).toBe(403);
      expect((await t.call("DELETE", `/v1/partners/${partnerId}/keys/key_0`, { key: a.key })).status).toBe(
        403,
      );
    }
  });

  it("caps a partner's keys at 10 (409)", async () => {
    const p = await t.newPartner("Many keys");
    for (let i = 1; i < 10; i++) {
      expect((await t.call("POST", `/v1/partners/${p.partnerId}/keys`, { key: t.opsKey })).status).toBe(201);
    }
    expect((await t.call("POST", `/v1/partners/${p.partnerId}/keys`, { key: t.opsKey })).status).toBe(409);
  });
});

describe("ops key", () => {
  it("a secret-held ops key is re-read after its TTL (a rotated key takes over within 60 s)", async () => {
    let value = "jops_first";
    let reads = 0;
    let now = 0;
    const source = await opsKeyHashSource(
      { OPS_API_KEY_SECRET_ARN: "arn:secret" },
      async () => {
        reads++;
        if (value === "fail") throw new Error("Secrets Manager is down");
        return value;
      },
      { now: () => now },
    );
    expect(await source()).toBe(hashApiKey("jops_first"));
    value = "jops_second";
    now = 59_000;
    expect(await source()).toBe(hashApiKey("jops_first"));
    now = 60_000;
    expect(await source()).toBe(hashApiKey("jops_second"));
    value = "fail";
    now = 130_000;
    expect(await source()).toBe(hashApiKey("jops_second")); // the last value, until a read succeeds
    expect(reads).toBe(3);
    // A constant key needs no reads.
    const constant = await opsKeyHashSource({ OPS_API_KEY: "k" });
    expect(await constant()).toBe(hashApiKey("k"));
  });
});

describe("per-partner rate limits", () => {
  it("the token bucket refills at its rate and tells when to retry", () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3 }, () => now);
    for (let i = 0; i < 3; i++) limiter.take("p");
    expect(() => limiter.take("p")).toThrow(/rate limit/);
    limiter.take("q"); // another subject has its own bucket
    now = 500;
    limiter.take("p");
    expect(() => limiter.take("p")).toThrow(expect.objectContaining({ status: 429 }));
    expect(rateLimitFromEnv({})).toEqual({ ratePerSecond: 25, burst: 50 });
    expect(rateLimitFromEnv({ PARTNER_RATE_LIMIT_RPS: "5", PARTNER_RATE_LIMIT_BURST: "7" })).toEqual({
      ratePerSecond: 5,
      burst: 7,
    });
    expect(() => rateLimitFromEnv({ PARTNER_RATE_LIMIT_RPS: "0" })).toThrow(/PARTNER_RATE_LIMIT_RPS/);
  });

  it("429 with Retry-After for the partner past its limit while another partner still gets 200", async () => {
    // One token in 100 s: no refill between the requests below, however slow a loaded machine.
    const limited = t.withOptions({ rateLimiter: new RateLimiter({ ratePerSecond: 0.01, burst: 3 }) });
    const a = await t.newPartner("Busy");
    const b = await t.newPartner("Quiet");
    for (let i = 0; i < 3; i++)
      expect((await limited("GET", "/v1/tenants", { key: a.key })).status).toBe(200);
    const refused = await limited("GET", "/v1/tenants", { key: a.key });
    expect(refused.status).toBe(429);
    expect(refused.headers["content-type"]).toBe("application/problem+json");
    expect(refused.body.type).toBe("/v1/errors#RATE_LIMITED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect((await limited("GET", "/v1/tenants", { key: b.key })).status).toBe(200);
    expect((await limited("GET", "/v1/tenants", { key: t.opsKey })).status).toBe(200);
    // Anonymous traffic (health, bad keys) has a bucket of its own.
    for (let i = 0; i < 3; i++) await limited("GET", "/v1/tenants", { key: "jok_bad" });
    expect((await limited("GET", "/health")).status).toBe(429);
    expect((await limited("GET", "/v1/tenants", { key: b.key })).status).toBe(200);
  });
});

describe("the local runtime over HTTP", () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ env: { PARTNER_RATE_LIMIT_RPS: "1", PARTNER_RATE_LIMIT_BURST: "5" } });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it("generates a jops_ ops key; keys rotate and revoke; a partner is limited alone", async () => {
    expect(rt.opsKey.startsWith(OPS_KEY_PREFIX)).toBe(true);
    const a = await rt.createPartner("A");
    const b = await rt.createPartner("B");
    const second = await rt.call("POST", `/v1/partners/${a.partnerId}/keys`);
    expect(second.status).toBe(201);
    expect((await rt.call("GET", "/v1/tenants", { key: second.body.apiKey })).status).toBe(200);
    const keys = await rt.call("GET", `/v1/partners/${a.partnerId}/keys`);
    const firstId = keys.body.items.find((k: { keyId: string }) => k.keyId !== second.body.keyId).keyId;
    expect((await rt.call("DELETE", `/v1/partners/${a.partnerId}/keys/${firstId}`)).status).toBe(204);
    expect((await rt.call("GET", "/v1/tenants", { key: a.apiKey })).status).toBe(401);
    // Partner A past its burst of 5 (at 1 request/s): a 429 with Retry-After comes quickly.
    let refused: Response | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await fetch(`${rt.url}/v1/tenants`, {
        headers: { authorization: `Bearer ${second.body.apiKey}` },
      });
      await res.arrayBuffer();
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(200);
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await rt.call("GET", "/v1/tenants", { key: b.apiKey })).status).toBe(200);
  });
});

describe("stored names refuse control and invisible format characters", () => {
  const SNEAKY = [
    ["bidi override", "Contoso\u202Egnp.exe"],
    ["right-to-left isolate", "Contoso\u2067MSP"],
    ["zero-width space", "Cont\u200Boso"],
    ["zero-width joiner", "Contoso\u200DMSP"],
    ["byte order mark", "\uFEFFContoso"],
    ["control character", "Contoso\u0007"],
  ] as const;

  it.each(SNEAKY)("partner name with a %s: 400 naming /body/name", async (_what, name) => {
    const res = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { pointer: "/body/name", detail: expect.stringMatching(/control or invisible formatting/) },
    ]);
  });

  it.each(SNEAKY)("group name with a %s: 400 naming the group's name", async (_what, name) => {
    const p = await t.newPartner();
    const groups = {
      eu: { name, primarySmtpAddress: "journal-eu@contoso.example", members: [] },
      us: { name: "Journal US", primarySmtpAddress: "journal-us@contoso.example", members: [] },
    };
    const res = await t.call("POST", "/v1/tenants", {
      key: p.key,
      body: onboardingBody(newTenantId(), { region: "split", groups }),
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(["/body/groups/eu/name"]);
  });

  it("keeps letters of every script, and refuses a webhook URL with a format character", async () => {
    const res = await t.call("POST", "/v1/partners", {
      key: t.opsKey,
      body: { name: "Société Ünïcode 株式会社" },
    });
    expect(res.status).toBe(201);
    const bad = await t.call("PUT", "/v1/webhook", {
      key: res.body.apiKey,
      body: { url: "https://hooks.example/\u202Ein" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.pointer).toBe("/body/url");
  });
});

describe("partner-visible error messages", () => {
  it("map Entra's and Microsoft's own texts per code; keep ours without ids or trace lines", async () => {
    const { AccessDeniedError, ConsentRequiredError, InvalidGroupMemberError, toErrorInfo, partnerMessage } =
      await import("../functions/domain/errors.ts");
    const clientId = "3f2b6d1e-8c4a-4e2f-9b7d-1a2b3c4d5e6f";
    const raw = `AADSTS65001: The user or administrator has not consented to use the application with ID '${clientId}'.\r\nTrace ID: 0b1c2d3e-aaaa-bbbb-cccc-111122223333\r\nCorrelation ID: x\r\nTimestamp: 2026-01-01`;
    const consent = toErrorInfo(new ConsentRequiredError(raw));
    expect(consent.code).toBe("CONSENT_REQUIRED");
    expect(consent.message).not.toContain(clientId);
    expect(consent.message).toMatch(/consentUrl/);
    expect(toErrorInfo(new AccessDeniedError(`denied for app ${clientId}`)).message).toMatch(
      /Exchange Administrator role/,
    );
    const member = toErrorInfo(
      new InvalidGroupMemberError("alice@contoso.example resolves to no recipient."),
    );
    expect(member.message).toBe("alice@contoso.example resolves to no recipient.");
    expect(partnerMessage("M365_INVALID_REQUEST", raw)).toBe(
      "AADSTS65001: The user or administrator has not consented to use the application with ID '<id>'.",
    );
  });
});
