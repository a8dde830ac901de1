/**
 * Idempotency-Key on POST /v1/tenants, with Powertools idempotency records in the real table
 * (dynalite): replays, key reuse, partner scoping, 50 concurrent duplicates, in-progress 409.
 */
import { createHash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryIdempotencyLayer } from "../functions/api/idempotency.ts";
import { newTenantId, onboardingBody, startTestApi, type TestApi } from "./support/api.ts";

let t: TestApi;
let a: { partnerId: string; key: string };
let b: { partnerId: string; key: string };

beforeAll(async () => {
  t = await startTestApi();
  a = await t.newPartner("Partner A");
  b = await t.newPartner("Partner B");
});

const post = (key: string, body: unknown, idempotencyKey?: string) =>
  t.call("POST", "/v1/tenants", {
    key,
    body,
    ...(idempotencyKey !== undefined && { headers: { "Idempotency-Key": idempotencyKey } }),
  });

/** The table key of a (partner, Idempotency-Key) record. */
function recordKey(partnerId: string, key: string) {
  const hash = createHash("sha256")
    .update(JSON.stringify([partnerId, key]))
    .digest("base64");
  return { pk: `IDEMPOTENCY#onboardTenant#${hash}`, sk: "IDEMPOTENCY" };
}

async function readRecord(partnerId: string, key: string) {
  const { Item } = await t.docClient.send(
    new GetCommand({ TableName: t.tableName, Key: recordKey(partnerId, key), ConsistentRead: true }),
  );
  return Item;
}

async function registeredCount(tenantId: string): Promise<number> {
  return (await t.store.getTenant(tenantId)) ? 1 : 0;
}

describe("Idempotency-Key", () => {
  it("returns the first response to a retried request, marked as replayed", async () => {
    const tenantId = newTenantId();
    const key = randomUUID();
    const first = await post(a.key, onboardingBody(tenantId), key);
    expect(first.status).toBe(202);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    // The tenant moves on; the retry still gets the first answer, not a 409.
    await t.store.transition(
      tenantId,
      { status: "running", expectStatus: ["queued"], event: { type: "tenant.onboarding.started" } },
      new Date().toISOString(),
    );
    // Same content, other formatting and key order: the same request.
    const reordered = JSON.stringify(
      Object.fromEntries(Object.entries(onboardingBody(tenantId)).reverse()),
      null,
      2,
    );
    const second = await post(a.key, reordered, key);
    expect(second.status).toBe(202);
    expect(second.raw.body).toBe(first.raw.body);
    expect(second.headers.location).toBe(first.headers.location);
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
    const fresh = await post(a.key, onboardingBody(tenantId), randomUUID());
    expect(fresh.status).toBe(409);
  });

  it("answers 422 to the same key with a different body, and changes nothing", async () => {
    const key = randomUUID();
    const tenantId = newTenantId();
    expect((await post(a.key, onboardingBody(tenantId), key)).status).toBe(202);
    const otherTenant = newTenantId();
    const reused = await post(a.key, onboardingBody(otherTenant), key);
    expect(reused.status).toBe(422);
    expect(reused.body.type).toBe("/v1/errors#IDEMPOTENCY_KEY_REUSED");
    expect(await registeredCount(otherTenant)).toBe(0);
    const sameTenantOtherField = await post(a.key, onboardingBody(tenantId, { outboundGateway: true }), key);
    expect(sameTenantOtherField.status).toBe(422);
  });

  it("scopes keys to the partner", async () => {
    const key = randomUUID();
    const mine = newTenantId();
    const theirs = newTenantId();
    expect((await post(a.key, onboardingBody(mine), key)).status).toBe(202);
    const other = await post(b.key, onboardingBody(theirs), key);
    expect(other.status).toBe(202);
    expect(other.body.partnerId).toBe(b.partnerId);
    expect(other.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("stores records in the service table under their own partition, expiring via the TTL attribute", async () => {
    const key = randomUUID();
    expect((await post(a.key, onboardingBody(newTenantId()), key)).status).toBe(202);
    const item = await readRecord(a.partnerId, key);
    expect(item).toMatchObject({ status: "COMPLETED", expiresAt: expect.any(Number) });
    const ttl = (item!.expiresAt as number) - Date.now() / 1000;
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_401);
    // The stored response is the API answer, nothing more (no key, no principal).
    expect(JSON.stringify(item)).not.toContain(a.key);
  });

  it("does not remember a request that failed: its retry runs again", async () => {
    const tenantId = newTenantId();
    const key = randomUUID();
    t.engine.refuse.add(tenantId);
    expect((await post(a.key, onboardingBody(tenantId), key)).status).toBe(503);
    t.engine.refuse.delete(tenantId);
    // The registration happened (the tenant is failed and retryable), so the rerun is a 409.
    const again = await post(a.key, onboardingBody(tenantId), key);
    expect(again.status).toBe(409);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("rejects a malformed key with a 400", async () => {
    for (const bad of ["", "a b", "x".repeat(256), "é"]) {
      const res = await post(a.key, onboardingBody(newTenantId()), bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.errors[0].pointer).toBe("/header/idempotency-key");
    }
  });
});

describe("concurrent duplicates", () => {
  it("50 identical requests with one key: one tenant, one workflow start, 50 identical 202s", async () => {
    const tenantId = newTenantId();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(a.key, onboardingBody(tenantId), key)),
    );
    const statuses = responses.map((r) => r.status);
    expect(new Set(statuses)).toEqual(new Set([202]));
    expect(new Set(responses.map((r) => r.raw.body)).size).toBe(1);
    expect(responses.filter((r) => r.headers["idempotent-replayed"] === undefined)).toHaveLength(1);
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
  });

  it("50 identical requests without a key: one 202, 49 conflicts, one workflow start", async () => {
    const tenantId = newTenantId();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(a.key, onboardingBody(tenantId))),
    );
    const count = (status: number) => responses.filter((r) => r.status === status).length;
    expect(count(202)).toBe(1);
    expect(count(409)).toBe(49);
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
  });

  it("a duplicate that outwaits the first request gets 409 with Retry-After, then the first response", async () => {
    const call = t.withOptions({ idempotencyWaitMs: 50 });
    const tenantId = newTenantId();
    const key = randomUUID();
    let release!: () => void;
    t.engine.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const send = () =>
      call("POST", "/v1/tenants", {
        key: a.key,
        body: onboardingBody(tenantId),
        headers: { "Idempotency-Key": key },
      });
    const first = send();
    // The first request holds the key from the moment its in-progress record exists.
    while ((await readRecord(a.partnerId, key))?.status !== "INPROGRESS") await sleep(5);
    const duplicate = await send();
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.type).toBe("/v1/errors#IDEMPOTENCY_IN_PROGRESS");
    expect(duplicate.headers["retry-after"]).toBe("1");
    t.engine.gate = undefined;
    release();
    const firstResponse = await first;
    expect(firstResponse.status).toBe(202);
    const later = await send();
    expect(later.status).toBe(202);
    expect(later.raw.body).toBe(firstResponse.raw.body);
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
  });
});

describe("in-memory idempotency records (one process, no table)", () => {
  it("replays, refuses reuse and serialises concurrent duplicates the same way", async () => {
    const call = t.withOptions({ idempotency: new MemoryIdempotencyLayer() });
    const send = (body: unknown, key: string) =>
      call("POST", "/v1/tenants", { key: a.key, body, headers: { "Idempotency-Key": key } });
    const tenantId = newTenantId();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send(onboardingBody(tenantId), key)),
    );
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([202]));
    expect(new Set(responses.map((r) => r.raw.body)).size).toBe(1);
    expect(t.engine.startsFor(tenantId)).toHaveLength(1);
    expect((await send(onboardingBody(newTenantId()), key)).status).toBe(422);
    expect(await readRecord(a.partnerId, key)).toBeUndefined();
  });
});
