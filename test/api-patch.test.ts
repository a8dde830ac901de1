/**
 * `PATCH /v1/tenants/{tenantId}` over the real HTTP API of either form (test/support/form.ts): correct what made a tenant fail, then retry it.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, type Json, startForm } from "./support/form.ts";

let t: FormHandle;
let partner: { partnerId: string; apiKey: string };
let other: { partnerId: string; apiKey: string };

beforeAll(async () => {
  t = await startForm();
  partner = await t.createPartner("Patch partner");
  other = await t.createPartner("Other partner");
});

afterAll(async () => {
  await t?.close();
});

const sim = () => t.sim;

function splitBody(tenantId: string, ndrAddress: string) {
  const demo = demoMailboxes(tenantId);
  return {
    tenantId,
    customerName: "contoso",
    region: "split",
    ndrAddress,
    groups: {
      eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
      us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
    },
  };
}

/** POST /v1/tenants, then the customer's admin consents through the partner's link. */
async function onboard(key: string, body: unknown) {
  const posted = await t.call("POST", "/v1/tenants", { key, body });
  if (posted.body?.consentUrl) expect((await t.consent(posted.body.consentUrl)).status).toBe(200);
  return posted;
}

const stepStatus = (tenant: Json) =>
  Object.fromEntries(tenant.steps.map((s: Json) => [s.name, s.status])) as Record<string, string>;

describe("PATCH /v1/tenants/{tenantId}", () => {
  it("corrects an ndrAddress that is a group, and a retry then succeeds", async () => {
    const tenantId = randomUUID();
    const demo = demoMailboxes(tenantId);
    const created = await onboard(partner.apiKey, splitBody(tenantId, demo.group.address));
    expect(created.status).toBe(202);
    const failed = await t.waitFor(tenantId, ["failed", "succeeded"]);
    expect(failed.status).toBe("failed");
    expect(failed.error.code).toBe("INVALID_NDR_ADDRESS");

    const patched = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: partner.apiKey,
      body: { ndrAddress: demo.admin },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.ndrAddress).toBe(demo.admin);
    expect(patched.body.status).toBe("failed");
    expect(stepStatus(patched.body)).toMatchObject({
      "check-access": "pending",
      "journal-settings": "pending",
      connector: "skipped",
    });
    expect(patched.body.steps.find((s: Json) => s.name === "check-access").error).toBeUndefined();
    // The step that failed is pending again: its error is answered, not shown as current.
    expect(patched.body.error).toBeUndefined();
    expect(
      (await t.call("GET", `/v1/tenants/${tenantId}`, { key: partner.apiKey })).body.error,
    ).toBeUndefined();

    const events = await t.call("GET", `/v1/tenants/${tenantId}/events`, { key: partner.apiKey });
    expect(events.body.items.at(-1)).toMatchObject({ type: "tenant.updated", data: { status: "failed" } });

    expect((await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey })).status).toBe(202);
    const done = await t.waitFor(tenantId, ["succeeded", "failed"]);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect((await sim().tenant(tenantId)).journalingReportNdrTo).toBe(demo.admin);
  });

  it("resets the steps that use a changed field, and only those", async () => {
    const tenantId = randomUUID();
    const demo = demoMailboxes(tenantId);
    await sim().failNext(tenantId, "New-JournalRule", { kind: "error", status: 400, message: "quota" }, 1);
    await onboard(partner.apiKey, { ...splitBody(tenantId, demo.admin), outboundGateway: false });
    const failed = await t.waitFor(tenantId, ["failed", "succeeded"]);
    expect(stepStatus(failed)).toMatchObject({ groups: "succeeded", "journal-rules": "failed" });

    const res = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: partner.apiKey,
      body: { outboundGateway: true, customerName: "contoso-eu" },
    });
    expect(res.status).toBe(200);
    expect(stepStatus(res.body)).toEqual({
      "check-access": "succeeded",
      connector: "pending",
      "validate-connector": "pending",
      "journal-settings": "succeeded",
      groups: "succeeded",
      "journal-rules": "pending",
    });
    expect(res.body).toMatchObject({ outboundGateway: true, customerName: "contoso-eu" });
    expect(res.body.error).toBeUndefined();
    await t.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey });
    const done = await t.waitFor(tenantId, ["succeeded", "failed"]);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(stepStatus(done).connector).toBe("succeeded");
  });

  it("is a 409 while running and once succeeded, and a 404 for another partner", async () => {
    const tenantId = randomUUID();
    const demo = demoMailboxes(tenantId);
    // Exchange answers one read in 5 s: the run is still going when the PATCH arrives, even with
    // the status poll and the PATCH each taking a second on a loaded machine (1.5 s was too close).
    await sim().failNext(tenantId, "Get-TransportConfig", { kind: "delay", ms: 5_000 }, 1);
    await onboard(partner.apiKey, splitBody(tenantId, demo.admin));
    await t.waitFor(tenantId, ["running"]);
    const running = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: partner.apiKey,
      body: { ndrAddress: demo.alice },
    });
    expect(running.status).toBe(409);
    expect(running.body.detail).toMatch(/is running; it can be corrected only when failed/);

    await t.waitFor(tenantId, ["succeeded"]);
    const succeeded = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: partner.apiKey,
      body: { ndrAddress: demo.alice },
    });
    expect(succeeded.status).toBe(409);

    const foreign = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: other.apiKey,
      body: { ndrAddress: demo.alice },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.detail).toBe(`Tenant ${tenantId} was not found.`);
  });

  it("refuses bad bodies with a 400 and a pointer to the field", async () => {
    const tenantId = await t.onboard(partner.apiKey, { failJournalRule: true });
    await t.waitFor(tenantId, ["failed"]);
    const demo = demoMailboxes(tenantId);
    const group = (name: string, address: string) => ({ name, primarySmtpAddress: address, members: [] });
    const cases: [unknown, string][] = [
      [{}, "/body"],
      [{ ndrAddress: "not an address" }, "/body/ndrAddress"],
      [{ region: "eu" }, "/body/region"],
      [{ tenantId }, "/body/tenantId"],
      [{ customerName: "Upper Case" }, "/body/customerName"],
      [{ outboundGateway: "yes" }, "/body/outboundGateway"],
      [{ groups: { eu: group("A", "a@x.example") } }, "/body/groups/us"],
      // Region us: groups are for split tenants only.
      [{ groups: { eu: group("A", "a@x.example"), us: group("B", "b@x.example") } }, "/body/groups"],
    ];
    for (const [body, pointer] of cases) {
      const res = await t.call("PATCH", `/v1/tenants/${tenantId}`, { key: partner.apiKey, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.body.errors.map((e: Json) => e.pointer),
        JSON.stringify(res.body),
      ).toContain(pointer);
    }
    // Nothing was changed by the refused requests.
    const tenant = await t.call("GET", `/v1/tenants/${tenantId}`, { key: partner.apiKey });
    expect(tenant.body.ndrAddress).toBe(demo.admin);
  });

  it("refuses EU and US groups with the same name or address, at POST and at PATCH", async () => {
    const tenantId = randomUUID();
    const demo = demoMailboxes(tenantId);
    const body = splitBody(tenantId, demo.admin);
    const sameName = structuredClone(body);
    sameName.groups.us.name = "journal eu";
    const sameAddress = structuredClone(body);
    sameAddress.groups.us.primarySmtpAddress = body.groups.eu.primarySmtpAddress.toUpperCase();
    for (const [bad, pointer] of [
      [sameName, "/body/groups/us/name"],
      [sameAddress, "/body/groups/us/primarySmtpAddress"],
    ] as const) {
      const post = await t.call("POST", "/v1/tenants", { key: partner.apiKey, body: bad });
      expect(post.status).toBe(400);
      expect(post.body.errors.map((e: Json) => e.pointer)).toContain(pointer);
    }

    const failing = splitBody(tenantId, demo.group.address);
    await onboard(partner.apiKey, failing);
    await t.waitFor(tenantId, ["failed"]);
    const patch = await t.call("PATCH", `/v1/tenants/${tenantId}`, {
      key: partner.apiKey,
      body: { groups: sameName.groups },
    });
    expect(patch.status).toBe(400);
    expect(patch.body.errors.map((e: Json) => e.pointer)).toContain("/body/groups/us/name");
  });
});
