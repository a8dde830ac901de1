/**
 * The partner REST API, composed as in AWS (createApi), driven with API Gateway proxy events
 * against the real store on dynalite. Every response is validated against the OpenAPI
 * document that the API serves (test/support/api.ts).
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { routes } from "../functions/api/routes.ts";
import { hashApiKey } from "../functions/domain/api-keys.ts";
import { newTenantId, onboardingBody, splitGroups, startTestApi, type TestApi } from "./support/api.ts";

const PROBLEM = "application/problem+json";
const problemType = (slug: string) => `/v1/errors#${slug.toUpperCase().replaceAll("-", "_")}`;

let t: TestApi;
let a: { partnerId: string; key: string };
let b: { partnerId: string; key: string };

beforeAll(async () => {
  t = await startTestApi();
  a = await t.newPartner("Partner A");
  b = await t.newPartner("Partner B");
});

async function onboard(key: string, overrides: Record<string, unknown> = {}) {
  const tenantId = newTenantId();
  const res = await t.call("POST", "/v1/tenants", { key, body: onboardingBody(tenantId, overrides) });
  expect(res.status, res.raw.body).toBe(202);
  return tenantId;
}

/** Moves a tenant as the workflow would (through the real store). */
async function moveTo(tenantId: string, status: "running" | "failed" | "awaiting_consent" | "succeeded") {
  const now = new Date().toISOString();
  const current = (await t.store.getTenant(tenantId))!.tenant.status;
  if (current === "queued") {
    await t.store.transition(
      tenantId,
      { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
      now,
    );
  }
  if (status === "running") return;
  const event =
    status === "failed"
      ? ({
          type: "tenant.onboarding.failed",
          error: { code: "M365_ACCESS_DENIED", message: "denied" },
        } as const)
      : status === "awaiting_consent"
        ? ({ type: "tenant.onboarding.awaiting_consent" } as const)
        : ({ type: "tenant.onboarding.succeeded" } as const);
  await t.store.transition(
    tenantId,
    {
      status,
      expectStatus: ["running"],
      event,
      ...(status === "failed" && { error: { code: "M365_ACCESS_DENIED", message: "denied" } }),
      ...(status === "awaiting_consent" && { consentUrl: "https://login.example/adminconsent?x=1" }),
    },
    now,
  );
}

describe("health and the OpenAPI document", () => {
  it("answers GET /health without a key", async () => {
    const res = await t.call("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("serves an OpenAPI 3.1 document, to any key only, that covers every route", async () => {
    expect((await t.call("GET", "/v1/openapi.json")).status).toBe(401);
    const res = await t.call("GET", "/v1/openapi.json", { key: a.key });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    for (const route of routes) {
      const op = res.body.paths[route.path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(op.responses["500"]).toBeDefined();
      if (route.access !== "public") expect(op.responses["401"]).toBeDefined();
      if (route.body) expect(Object.keys(op.requestBody.content)).toEqual(["application/json"]);
    }
    expect(res.body.paths["/health"].get.security).toEqual([]);
    expect(t.validator.compileAll()).toContain("OnboardingRequest");
  });

  it("documents the request rules in the request schema", async () => {
    const res = await t.call("GET", "/v1/openapi.json", { key: a.key });
    const schema = res.body.components.schemas.OnboardingRequest;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(["tenantId", "customerName", "region", "ndrAddress"]);
    expect(schema.properties.outboundGateway.default).toBe(false);
    expect(schema.properties.groups.properties.eu.properties.members.maxItems).toBe(10_000);
    expect(schema.properties.groups.properties.eu.properties.name.maxLength).toBe(64);
    expect(schema.allOf[0].then.required).toEqual(["groups"]);
    const limit = res.body.paths["/v1/tenants"].get.parameters.find(
      (p: { name: string }) => p.name === "limit",
    );
    expect(limit.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 20 });
  });
});

describe("authentication and roles", () => {
  it("refuses missing, malformed and unknown keys with the same 401", async () => {
    const attempts = [
      {},
      { headers: { Authorization: "Basic dXNlcjpwYXNz" } },
      { headers: { Authorization: "Bearer" } },
      { key: `jok_${"A".repeat(43)}` },
      { key: "not-the-ops-key" },
      { key: a.key.slice(0, -1) },
    ];
    for (const attempt of attempts) {
      const res = await t.call("GET", "/v1/tenants", attempt);
      expect(res.status).toBe(401);
      expect(res.headers["content-type"]).toBe(PROBLEM);
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(res.body.type).toBe(problemType("unauthorized"));
    }
  });

  it("does not reveal unknown routes to anonymous callers", async () => {
    expect((await t.call("GET", "/v1/nothing-here")).status).toBe(401);
    expect((await t.call("GET", "/v1/nothing-here", { key: a.key })).status).toBe(404);
    const res = await t.call("PATCH", "/v1/tenants", { key: a.key });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST, GET");
  });

  it("keeps ops routes for ops and partner routes for partners (403)", async () => {
    const asPartner = await t.call("POST", "/v1/partners", { key: a.key, body: { name: "x" } });
    expect(asPartner.status).toBe(403);
    expect((await t.call("GET", "/v1/partners", { key: a.key })).status).toBe(403);
    const asOps = await t.call("POST", "/v1/tenants", { key: t.opsKey, body: onboardingBody(newTenantId()) });
    expect(asOps.status).toBe(403);
    expect(asOps.body.type).toBe(problemType("forbidden"));
  });

  it("trusts the principal that the API Gateway authorizer put in the request context", async () => {
    const tenantId = await onboard(a.key);
    const viaAuthorizer = await t.call("GET", `/v1/tenants/${tenantId}`, {
      authorizer: { role: "partner", partnerId: a.partnerId, principalId: a.partnerId },
    });
    expect(viaAuthorizer.status).toBe(200);
    const other = await t.call("GET", `/v1/tenants/${tenantId}`, {
      authorizer: { role: "partner", partnerId: b.partnerId },
    });
    expect(other.status).toBe(404);
    // A context without a usable principal is not a pass.
    expect((await t.call("GET", "/v1/tenants", { authorizer: { role: "partner" } })).status).toBe(401);
    expect((await t.call("GET", "/v1/tenants", { authorizer: { role: "admin" } })).status).toBe(401);
  });

  it("stores partner keys only as SHA-256 and never logs keys or the Authorization header", async () => {
    const created = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name: "Hashing check" } });
    const key = created.body.apiKey as string;
    expect(key).toMatch(/^jok_[A-Za-z0-9_-]{43}$/);
    expect(await t.store.findApiKey(hashApiKey(key))).toEqual({
      role: "partner",
      partnerId: created.body.partnerId,
    });
    await t.call("GET", "/v1/tenants", { key });
    await t.call("GET", "/v1/tenants", { key: `${key}x` });
    const logs = t.logger.lines.join("\n");
    expect(t.logger.lines.length).toBeGreaterThan(5);
    for (const secret of [key, a.key, b.key, t.opsKey]) expect(logs).not.toContain(secret);
    expect(logs.toLowerCase()).not.toContain("authorization");
    expect(logs.toLowerCase()).not.toContain("bearer");
  });
});

describe("partners", () => {
  it("creates partners (201, key shown once) and lists them with cursors", async () => {
    const res = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name: "Contoso MSP" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Contoso MSP", partnerId: expect.any(String) });
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await t.call("GET", "/v1/partners", {
        key: t.opsKey,
        query: { limit: "2", ...(cursor && { cursor }) },
      });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const p of page.body.items) {
        expect(p.apiKey).toBeUndefined();
        seen.add(p.partnerId);
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toContain(res.body.partnerId);
    expect(seen).toContain(a.partnerId);
  });

  it("rejects bad partner bodies", async () => {
    for (const body of [{}, { name: "" }, { name: "x", extra: 1 }, { name: 7 }, { name: "a\u0000b" }]) {
      const res = await t.call("POST", "/v1/partners", { key: t.opsKey, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("POST /v1/tenants", () => {
  it("registers the tenant, starts one onboarding run and answers 202 with the resource", async () => {
    const tenantId = newTenantId();
    const res = await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/v1/tenants/${tenantId}`);
    expect(res.body).toMatchObject({
      tenantId,
      partnerId: a.partnerId,
      customerName: "contoso",
      region: "us",
      outboundGateway: false,
      ndrAddress: "admin@contoso.example",
      status: "queued",
    });
    expect(res.body.steps.map((s: { name: string }) => s.name)).toEqual([
      "check-access",
      "connector",
      "validate-connector",
      "journal-settings",
      "groups",
      "journal-rules",
    ]);
    expect(t.engine.startsFor(tenantId)).toEqual([
      { kind: "onboarding", input: { tenantId, run: 1, incarnation: expect.any(String) } },
    ]);
  });

  it("accepts split with groups (without echoing them) and refuses groups elsewhere", async () => {
    const tenantId = newTenantId();
    const split = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(tenantId, { region: "split", outboundGateway: true, groups: splitGroups() }),
    });
    expect(split.status).toBe(202);
    expect(split.body.groups).toBeUndefined();
    expect((await t.store.getTenant(tenantId))?.tenant.groups?.eu.members).toEqual(["alice@contoso.example"]);

    const missing = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId(), { region: "split" }),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([
      { pointer: "/body/groups", detail: "Required when region is split" },
    ]);
    const refused = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId(), { region: "eu", groups: splitGroups() }),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { pointer: "/body/groups", detail: "Only allowed when region is split" },
    ]);
  });

  it("enforces the request's field rules, each with a pointer to the field", async () => {
    const groups = splitGroups();
    const cases: [Record<string, unknown>, string][] = [
      [{ tenantId: "1234" }, "/body/tenantId"],
      [{ tenantId: "00000000-0000-4000-8000-00000000000g" }, "/body/tenantId"],
      [{ customerName: "Contoso" }, "/body/customerName"],
      [{ customerName: "" }, "/body/customerName"],
      [{ customerName: "a".repeat(64) }, "/body/customerName"],
      [{ customerName: "con_toso" }, "/body/customerName"],
      [{ region: "US" }, "/body/region"],
      [{ region: "apac" }, "/body/region"],
      [{ outboundGateway: "false" }, "/body/outboundGateway"],
      [{ ndrAddress: "not-an-address" }, "/body/ndrAddress"],
      [{ ndrAddress: "a@b" }, "/body/ndrAddress"],
      [{ ndrAddress: `${"a".repeat(65)}@contoso.example` }, "/body/ndrAddress"],
      [{ ndrAddress: "Admin <admin@contoso.example>" }, "/body/ndrAddress"],
      [{ ndrAddress: undefined }, "/body/ndrAddress"],
      [{ extra: true }, "/body/extra"],
      [
        { region: "split", groups: { ...groups, eu: { ...groups.eu, name: "n".repeat(65) } } },
        "/body/groups/eu/name",
      ],
      [
        { region: "split", groups: { ...groups, us: { ...groups.us, members: ["bob"] } } },
        "/body/groups/us/members/0",
      ],
      [{ region: "split", groups: { ...groups, us: { ...groups.us, owner: "x" } } }, "/body/groups/us/owner"],
      [{ region: "split", groups: { eu: groups.eu } }, "/body/groups/us"],
      [
        { region: "split", groups: { ...groups, eu: { ...groups.eu, primarySmtpAddress: "x@" } } },
        "/body/groups/eu/primarySmtpAddress",
      ],
    ];
    for (const [overrides, pointer] of cases) {
      const tenantId = newTenantId();
      const res = await t.call("POST", "/v1/tenants", {
        key: a.key,
        body: onboardingBody(tenantId, overrides),
      });
      expect(res.status, JSON.stringify(overrides).slice(0, 80)).toBe(400);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
      expect(await t.store.getTenant(tenantId)).toBeUndefined();
    }
    const valid = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId(), {
        customerName: "a".repeat(63),
        ndrAddress: "first.o'brien+nd@mail.contoso-eu.example",
        outboundGateway: true,
      }),
    });
    expect(valid.status, valid.raw.body).toBe(202);
  });

  it("takes groups up to Exchange's limit of 10,000 members, not one more", async () => {
    const members = Array.from({ length: 10_000 }, (_, i) => `user${i}@contoso.example`);
    const tenantId = newTenantId();
    const ok = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(tenantId, { region: "split", groups: splitGroups(members) }),
    });
    expect(ok.status, ok.raw.body.slice(0, 300)).toBe(202);
    expect((await t.store.getTenant(tenantId))?.tenant.groups?.us.members).toHaveLength(10_000);
    const tooMany = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId(), {
        region: "split",
        groups: splitGroups([...members, "one.more@contoso.example"]),
      }),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
      "/body/groups/eu/members",
      "/body/groups/us/members",
    ]);
  });

  it("normalises the tenant GUID to lower case, for the body and the path", async () => {
    const tenantId = newTenantId();
    const res = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(tenantId.toUpperCase()),
    });
    expect(res.body.tenantId).toBe(tenantId);
    expect((await t.call("GET", `/v1/tenants/${tenantId.toUpperCase()}`, { key: a.key })).status).toBe(200);
    const again = await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) });
    expect(again.status).toBe(409);
  });

  it("answers 409 for a tenant already registered, by anyone, without telling another partner more", async () => {
    const tenantId = await onboard(a.key);
    const same = await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) });
    expect(same.status).toBe(409);
    expect(same.body.type).toBe(problemType("conflict"));
    expect(same.body.detail).toContain("queued");
    const other = await t.call("POST", "/v1/tenants", { key: b.key, body: onboardingBody(tenantId) });
    expect(other.status).toBe(409);
    expect(other.body.detail).toBe(`Tenant ${tenantId} is already registered.`);
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
  });

  it("answers 415, 413 and 400 for bodies that are not one JSON object", async () => {
    const body = JSON.stringify(onboardingBody(newTenantId()));
    const cases: [Parameters<TestApi["call"]>[2], number, string][] = [
      [{ body, contentType: "text/plain" }, 415, "unsupported-media-type"],
      [{ body, contentType: null }, 415, "unsupported-media-type"],
      [{ body, contentType: "application/json; charset=iso-8859-1" }, 415, "unsupported-media-type"],
      [{ body: `{"x":"${"a".repeat(1024 * 1024)}"}` }, 413, "payload-too-large"],
      [{ body: "{" }, 400, "malformed-json"],
      [{ body: "[1,2" }, 400, "malformed-json"],
      [{ body: `${"[".repeat(200_000)}${"]".repeat(200_000)}` }, 400, "validation-failed"],
      [{ body: "" }, 400, "validation-failed"],
      [{ body: "null" }, 400, "validation-failed"],
      [{ body: "[]" }, 400, "validation-failed"],
    ];
    for (const [options, status, slug] of cases) {
      const res = await t.call("POST", "/v1/tenants", { key: a.key, ...options });
      expect(res.status, `${options?.contentType} ${String(options?.body).slice(0, 20)}`).toBe(status);
      expect(res.body.type).toBe(problemType(slug));
    }
  });

  it("answers 413 from the declared length when a front end dropped the oversized body", async () => {
    const res = await t.call("POST", "/v1/tenants", {
      key: a.key,
      headers: { "Content-Type": "application/json", "Content-Length": String(5 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
  });

  it("accepts JSON with a UTF-8 charset and base64-encoded bodies", async () => {
    const withCharset = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId()),
      contentType: "Application/JSON; charset=UTF-8",
    });
    expect(withCharset.status).toBe(202);
    const base64 = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(newTenantId()),
      base64: true,
    });
    expect(base64.status).toBe(202);
  });

  it("marks the tenant failed (retryable) when the workflow cannot be started, and says nothing internal", async () => {
    const tenantId = newTenantId();
    t.engine.refuse.add(tenantId);
    const res = await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) });
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.body).toMatchObject({ type: "/v1/errors#WORKFLOW_UNAVAILABLE", status: 503 });
    expect(JSON.stringify(res.body)).not.toMatch(/ThrottlingException|Rate exceeded/);
    const tenant = await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(tenant.body.status).toBe("failed");
    expect(tenant.body.error.code).toBe("WORKFLOW_START_FAILED");
    t.engine.refuse.delete(tenantId);
    const retried = await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: a.key });
    expect(retried.status).toBe(202);
    expect(t.engine.startsFor(tenantId)).toEqual([
      { kind: "onboarding", input: { tenantId, run: 2, incarnation: expect.any(String) } },
    ]);
  });
});

describe("reading and listing tenants", () => {
  it("reads a tenant; a non-GUID id is a 400, an unknown GUID a 404", async () => {
    const tenantId = await onboard(a.key);
    const res = await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(res.status).toBe(200);
    expect(res.body.tenantId).toBe(tenantId);
    const bad = await t.call("GET", "/v1/tenants/not-a-guid", { key: a.key });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].pointer).toBe("/path/tenantId");
    expect((await t.call("GET", `/v1/tenants/${newTenantId()}`, { key: a.key })).status).toBe(404);
    expect((await t.call("GET", "/v1/tenants/%E0%A4%A", { key: a.key })).status).toBe(400);
  });

  it("lists newest first with opaque cursors, filters by status, and validates limit and cursor", async () => {
    const partner = await t.newPartner();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await onboard(partner.key));
    await moveTo(ids[1]!, "failed");
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.call("GET", "/v1/tenants", {
        key: partner.key,
        query: { limit: "2", ...(cursor && { cursor }) },
      });
      expect(page.status).toBe(200);
      listed.push(...page.body.items.map((x: { tenantId: string }) => x.tenantId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(listed).toEqual([...ids].reverse());
    const defaultPage = await t.call("GET", "/v1/tenants", { key: partner.key });
    expect(defaultPage.body.items).toHaveLength(5);

    const failed = await t.call("GET", "/v1/tenants", { key: partner.key, query: { status: "failed" } });
    expect(failed.body.items.map((x: { tenantId: string }) => x.tenantId)).toEqual([ids[1]]);

    for (const limit of ["0", "101", "abc", "1e1", "-1", " 5", "", "5.0"]) {
      const res = await t.call("GET", "/v1/tenants", { key: partner.key, query: { limit } });
      expect(res.status, limit).toBe(400);
      expect(res.body.errors[0].pointer).toBe("/query/limit");
    }
    for (const bad of ["garbage", "eyJ4IjoxfQ", `${cursor ?? "x"}A`]) {
      const res = await t.call("GET", "/v1/tenants", { key: partner.key, query: { cursor: bad } });
      expect(res.status).toBe(400);
      expect(res.body.type).toBe(problemType("invalid-cursor"));
    }
    const repeated = await t.call("GET", "/v1/tenants", { key: partner.key, query: { limit: ["1", "2"] } });
    expect(repeated.status).toBe(400);
    const unknown = await t.call("GET", "/v1/tenants", { key: partner.key, query: { limt: "2" } });
    expect(unknown.body.errors).toEqual([{ pointer: "/query/limt", detail: "Unknown field" }]);
    const badStatus = await t.call("GET", "/v1/tenants", { key: partner.key, query: { status: "done" } });
    expect(badStatus.status).toBe(400);
  });

  it("refuses another list's cursor", async () => {
    await onboard(a.key);
    await onboard(a.key);
    const first = await t.call("GET", "/v1/tenants", { key: a.key, query: { limit: "1" } });
    expect(first.body.nextCursor).toBeDefined();
    const elsewhere = await t.call("GET", "/v1/tenants", {
      key: b.key,
      query: { cursor: first.body.nextCursor },
    });
    expect(elsewhere.status).toBe(400);
  });

  it("pages through a tenant's events, oldest first", async () => {
    const tenantId = await onboard(a.key);
    await moveTo(tenantId, "failed");
    const all = await t.call("GET", `/v1/tenants/${tenantId}/events`, { key: a.key });
    expect(all.status).toBe(200);
    expect(all.body.items.map((e: { type: string }) => e.type)).toEqual([
      "tenant.onboarding.started",
      "tenant.onboarding.failed",
    ]);
    expect(all.body.items[1].data).toMatchObject({ tenantId, status: "failed", sequence: 2 });
    const first = await t.call("GET", `/v1/tenants/${tenantId}/events`, {
      key: a.key,
      query: { limit: "1" },
    });
    expect(first.body.items).toHaveLength(1);
    const second = await t.call("GET", `/v1/tenants/${tenantId}/events`, {
      key: a.key,
      query: { limit: "1", cursor: first.body.nextCursor },
    });
    expect(second.body.items[0].type).toBe("tenant.onboarding.failed");
    expect(second.body.nextCursor).toBeUndefined();
    // Cursors the service did not issue (for this tenant) are refused, plain sequences included.
    const other = await onboard(a.key);
    await moveTo(other, "failed");
    const otherCursor = (
      await t.call("GET", `/v1/tenants/${other}/events`, { key: a.key, query: { limit: "1" } })
    ).body.nextCursor;
    for (const cursor of ["x1", "1", "3", otherCursor]) {
      const bad = await t.call("GET", `/v1/tenants/${tenantId}/events`, { key: a.key, query: { cursor } });
      expect(bad.status, cursor).toBe(400);
    }
  });
});

describe("PATCH (responses checked against the OpenAPI document)", () => {
  it("corrects a failed tenant (200, steps reset, no new run), else 409; bad bodies 400", async () => {
    const tenantId = await onboard(a.key, { region: "split", groups: splitGroups() });
    const starts = t.engine.startsFor(tenantId).length;
    const path = `/v1/tenants/${tenantId}`;
    expect(
      (await t.call("PATCH", path, { key: a.key, body: { ndrAddress: "x@contoso.example" } })).status,
    ).toBe(409);
    await moveTo(tenantId, "failed");
    const res = await t.call("PATCH", path, {
      key: a.key,
      body: { ndrAddress: "ops@contoso.example", groups: splitGroups(["bob@contoso.example"]) },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "failed", ndrAddress: "ops@contoso.example" });
    expect((await t.store.getTenant(tenantId))?.tenant.groups?.eu.members).toEqual(["bob@contoso.example"]);
    expect(t.engine.startsFor(tenantId)).toHaveLength(starts); // PATCH starts nothing; retry does
    expect(
      (await t.call("PATCH", path, { key: b.key, body: { ndrAddress: "x@contoso.example" } })).status,
    ).toBe(404);
    for (const body of [{}, { region: "eu" }, { groups: { ...splitGroups(), us: splitGroups().eu } }]) {
      const bad = await t.call("PATCH", path, { key: a.key, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.type).toBe(problemType("validation-failed"));
    }
    const events = await t.call("GET", `${path}/events`, { key: a.key });
    expect(events.body.items.at(-1).type).toBe("tenant.updated");
    expect((await t.call("POST", `${path}/retry`, { key: a.key })).status).toBe(202);
    expect(t.engine.startsFor(tenantId)).toHaveLength(starts + 1);
  });
});

describe("retry and offboarding", () => {
  it("refuses a body on operations that take none (unknown fields)", async () => {
    const tenantId = await onboard(a.key);
    await moveTo(tenantId, "failed");
    const res = await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key, body: { force: true } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ pointer: "/body", detail: "This operation takes no body" }]);
    // Retry's only body is ops' `bindTenant`: anything else is an unknown field.
    const retry = await t.call("POST", `/v1/tenants/${tenantId}/retry`, {
      key: a.key,
      body: { force: true },
    });
    expect(retry.status).toBe(400);
    expect(retry.body.errors).toContainEqual({ pointer: "/body/force", detail: "Unknown field" });
    expect((await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key })).body.status).toBe("failed");
  });

  it("retries only from failed or awaiting_consent (else 409), with a new run", async () => {
    const tenantId = await onboard(a.key);
    const fromQueued = await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: a.key });
    expect(fromQueued.status).toBe(409);
    expect(fromQueued.body.detail).toContain("queued");
    await moveTo(tenantId, "failed");
    const retried = await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: a.key });
    expect(retried.status).toBe(202);
    expect(retried.body.status).toBe("queued");
    expect(retried.body.error).toBeUndefined();
    expect(
      retried.body.steps.every((s: { status: string }) => ["pending", "skipped"].includes(s.status)),
    ).toBe(true);
    expect((await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: a.key })).status).toBe(409);

    await moveTo(tenantId, "awaiting_consent");
    const consent = await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(consent.body.consentUrl).toBe("https://login.example/adminconsent?x=1");
    const byOps = await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: t.opsKey });
    expect(byOps.status).toBe(202);
    expect(byOps.body.consentUrl).toBeUndefined();
    expect(t.engine.startsFor(tenantId).map((s) => s.input.run)).toEqual([1, 2, 3]);
  });

  it("offboards from the offboardable statuses (202), else 409; an offboarded tenant can be onboarded again", async () => {
    const tenantId = await onboard(a.key);
    expect((await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key })).status).toBe(409);
    await moveTo(tenantId, "running");
    expect((await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key })).status).toBe(409);
    await moveTo(tenantId, "succeeded");
    const res = await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("offboarding");
    expect(t.engine.startsFor(tenantId).at(-1)).toEqual({
      kind: "offboarding",
      input: { tenantId, run: 2, incarnation: expect.any(String) },
    });
    const again = await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(again.status).toBe(409);
    expect((await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) })).status).toBe(
      409,
    );

    await t.store.transition(
      tenantId,
      {
        status: "offboarded",
        expectStatus: ["offboarding"],
        event: { type: "tenant.offboarding.succeeded" },
      },
      new Date().toISOString(),
    );
    const reonboard = await t.call("POST", "/v1/tenants", { key: a.key, body: onboardingBody(tenantId) });
    expect(reonboard.status).toBe(202);
    expect(reonboard.body.status).toBe("queued");
  });

  it("offboards from failed, awaiting_consent and offboarding_failed", async () => {
    for (const status of ["failed", "awaiting_consent"] as const) {
      const tenantId = await onboard(a.key);
      await moveTo(tenantId, status);
      expect((await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: t.opsKey })).status).toBe(202);
    }
    const tenantId = await onboard(a.key);
    await moveTo(tenantId, "succeeded");
    t.engine.refuse.add(tenantId);
    expect((await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key })).status).toBe(503);
    t.engine.refuse.delete(tenantId);
    expect((await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key })).body.status).toBe(
      "offboarding_failed",
    );
    expect((await t.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.key })).status).toBe(202);
  });
});

describe("isolation between partners", () => {
  it("gives another partner's tenant the same 404 as a tenant that does not exist, on every route", async () => {
    const tenantId = await onboard(a.key);
    await moveTo(tenantId, "failed");
    const ghost = newTenantId();
    const attempts: [string, (id: string) => string][] = [
      ["GET", (id) => `/v1/tenants/${id}`],
      ["GET", (id) => `/v1/tenants/${id}/events`],
      ["POST", (id) => `/v1/tenants/${id}/retry`],
      ["DELETE", (id) => `/v1/tenants/${id}`],
    ];
    for (const [method, path] of attempts) {
      const theirs = await t.call(method, path(tenantId), { key: b.key });
      const nobodys = await t.call(method, path(ghost), { key: b.key });
      expect(theirs.status, `${method} ${path("x")}`).toBe(404);
      expect(theirs.headers["content-type"]).toBe(PROBLEM);
      expect(JSON.stringify(theirs.body).replaceAll(tenantId, "ID")).toBe(
        JSON.stringify(nobodys.body).replaceAll(ghost, "ID"),
      );
    }
    // Nothing changed: still A's failed tenant, one start.
    const mine = await t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key });
    expect(mine.body.status).toBe("failed");
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
  });

  it("lists only the partner's own tenants; ops sees everyone's and can narrow to one partner", async () => {
    const mine = await onboard(a.key);
    const theirs = await onboard(b.key);
    const ids = async (key: string, query: Record<string, string> = {}) => {
      const res = await t.call("GET", "/v1/tenants", { key, query: { limit: "100", ...query } });
      expect(res.status).toBe(200);
      return res.body.items.map((x: { tenantId: string; partnerId: string }) => x.tenantId) as string[];
    };
    expect(await ids(a.key)).toContain(mine);
    expect(await ids(a.key)).not.toContain(theirs);
    expect(await ids(b.key)).not.toContain(mine);
    expect(await ids(a.key, { partnerId: b.partnerId })).toEqual([]);
    expect(await ids(a.key, { partnerId: a.partnerId })).toContain(mine);
    const all = await ids(t.opsKey);
    expect(all).toContain(mine);
    expect(all).toContain(theirs);
    const onlyB = await ids(t.opsKey, { partnerId: b.partnerId });
    expect(onlyB).toContain(theirs);
    expect(onlyB).not.toContain(mine);
    for (const key of [a.key, b.key]) {
      const res = await t.call("GET", "/v1/tenants", { key, query: { limit: "100" } });
      const partnerId = key === a.key ? a.partnerId : b.partnerId;
      expect(res.body.items.every((x: { partnerId: string }) => x.partnerId === partnerId)).toBe(true);
    }
  });
});

describe("webhook routes without a webhook service", () => {
  it("answer 501, saying what is missing (the service is wired separately)", async () => {
    const calls: [string, string, Record<string, unknown>?][] = [
      ["PUT", "/v1/webhook", { url: "https://hooks.example/x" }],
      ["GET", "/v1/webhook"],
      ["DELETE", "/v1/webhook"],
      ["GET", "/v1/webhook/deliveries"],
      ["POST", `/v1/webhook/deliveries/${randomUUID()}/replay`],
    ];
    for (const [method, path, body] of calls) {
      const res = await t.call(method, path, { key: a.key, ...(body && { body }) });
      expect(res.status, `${method} ${path}`).toBe(501);
      expect(res.body).toMatchObject({
        title: "Not implemented",
        status: 501,
        detail: expect.stringMatching(/not configured/),
      });
    }
    const badUrl = await t.call("PUT", "/v1/webhook", { key: a.key, body: { url: "ftp://x.example" } });
    expect(badUrl.status).toBe(400);
    expect(
      (await t.call("PUT", "/v1/webhook", { key: t.opsKey, body: { url: "https://x.example" } })).status,
    ).toBe(403);
  });
});
