/**
 * The README's walk-through over the real HTTP API of either form (test/support/form.ts), with every real-world
 * behaviour of the simulator switched on through `M365_SIMULATOR_CONFIG` (as a user would
 * set it for `npm start`): replication lag, slow cmdlets, Exchange's per-tenant concurrency
 * limit, transient directory faults, errors inside 200 answers, a dehydrated organisation that
 * takes a while to hydrate, and an NDR address Exchange never lets go of.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FormHandle, startForm } from "./support/form.ts";

const REALISTIC = {
  replicationLagCalls: 2,
  slowCmdlets: { "Validate-OutboundConnector": 50, "Enable-OrganizationCustomization": 50 },
  // Exchange's limit equal to our own cap of 3 per tenant: Exchange never has to refuse.
  maxConcurrentPerTenant: 3,
  directoryErrorRate: 0.05,
  adminApiErrorRate: 0.02,
  ndrClearing: "never",
  hydrationDelayMs: 200,
  seed: 3,
};

let rt: FormHandle;
beforeAll(async () => {
  rt = await startForm({ env: { M365_SIMULATOR_CONFIG: JSON.stringify(REALISTIC) } });
});
afterAll(async () => {
  await rt?.close();
});

describe("the README walk-through against Exchange as it really behaves", () => {
  it("onboards a split tenant with the connector, then offboards it, keeping the NDR address Exchange will not clear", async () => {
    const sim = rt.sim;
    expect(await sim.config()).toMatchObject({ ndrClearing: "never", maxConcurrentPerTenant: 3 });
    const partner = await rt.createPartner("Contoso MSP");
    const tenantId = randomUUID();
    const demo = await sim.demo(tenantId);
    await sim.setDehydrated(tenantId, true);
    const posted = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
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
    // The customer's admin consents through the partner's link (the simulator's consent page).
    expect(posted.body.status).toBe("awaiting_consent");
    expect((await rt.consent(posted.body.consentUrl)).status).toBe(200);
    const done = await rt.waitFor(tenantId, ["succeeded", "failed"], 60_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    expect(done.steps.map((s: { status: string }) => s.status)).toEqual(Array(6).fill("succeeded"));

    const events = await rt.call("GET", `/v1/tenants/${tenantId}/events`, { key: partner.apiKey });
    expect(events.body.items.at(-1).type).toBe("tenant.onboarding.succeeded");
    const calls = await sim.calls(tenantId);
    // Run once: a call that a fault answered before it ran does not count (it is sent again).
    const enabled = calls.filter(
      (c) => c.operation === "Enable-OrganizationCustomization" && c.status === 200 && !c.fault,
    );
    expect(enabled).toHaveLength(1);
    expect(calls.filter((c) => c.fault === "concurrency-limit")).toHaveLength(0);

    // Drift: the EU rule disabled behind the service's back is found by one check, read-only.
    const rule = "Journal Messages to CloudflareArea 1 (EU)";
    await sim.tamper(tenantId, { action: "disable-journal-rule", name: rule });
    const writesBefore = (await sim.calls(tenantId)).filter((c) => c.write).length;
    const checked = await rt.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: partner.apiKey });
    expect(checked.status).toBe(202);
    await rt.idle();
    const drift = await rt.call("GET", `/v1/tenants/${tenantId}/drift`, { key: partner.apiKey });
    expect(drift.body).toMatchObject({
      inSync: false,
      differences: [{ step: "journal-rules", object: `journal rule "${rule}"`, field: "enabled" }],
    });
    expect((await sim.calls(tenantId)).filter((c) => c.write).length).toBe(writesBefore);

    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: partner.apiKey })).status).toBe(202);
    const gone = await rt.waitFor(tenantId, ["offboarded", "offboarding_failed"], 60_000);
    expect(gone.status).toBe("offboarded");
    expect(gone.ndrAddressKept).toBe(true);
    // The event says so too, over the events API as in the webhook body.
    const history = await rt.call("GET", `/v1/tenants/${tenantId}/events?limit=100`, { key: partner.apiKey });
    expect(history.body.items.at(-1)).toMatchObject({
      type: "tenant.offboarding.succeeded",
      data: { status: "offboarded", ndrAddressKept: true },
    });
    expect(gone.steps.slice(6).map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ["remove-journal-rules", "succeeded"],
      ["remove-groups", "succeeded"],
      ["remove-connectors", "succeeded"],
      ["restore-journal-settings", "succeeded"],
    ]);
    const state = await sim.tenant(tenantId);
    expect(state.connectors).toEqual([]);
    expect(state.journalRules).toEqual([]);
    expect(state.groups.filter((g) => !g.seeded)).toEqual([]);
  });

  it("refuses an M365_SIMULATOR_CONFIG that is not a JSON object, naming the variable", async () => {
    await expect(startForm({ env: { M365_SIMULATOR_CONFIG: "replicationLagCalls=2" } })).rejects.toThrow(
      /M365_SIMULATOR_CONFIG/,
    );
  });
});
