/**
 * A tenant whose app holds only the least-privilege role group (no Exchange Administrator) is
 * drift-checked like any other: every read the check makes is in the group's roles.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

describe("drift checks with the role group only", () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ env: { DRIFT_CHECK_INTERVAL: "0" } });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it("a tenant onboarded without the admin role is checked in sync, with no refused call", async () => {
    const sim = rt.runtime.simulator!;
    const partner = await rt.createPartner("Least privilege MSP");
    const tenantId = randomUUID();
    const request = { region: "us", outboundGateway: true } as const;
    sim.setAppRoles(tenantId, { exchangeAdministrator: false, roles: requiredRoles(request) });
    const created = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: { tenantId, customerName: "contoso", ndrAddress: sim.demo(tenantId).admin, ...request },
    });
    expect(created.status).toBe(202);
    expect((await rt.consent(created.body.consentUrl)).status).toBe(200);
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "succeeded",
    );

    const writes = sim.calls(tenantId).filter((c) => c.write && c.status < 400).length;
    expect(
      (await rt.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: partner.apiKey })).status,
    ).toBe(202);
    await rt.runtime.engine.idle();
    const drift = (await rt.call("GET", `/v1/tenants/${tenantId}/drift`, { key: partner.apiKey })).body;
    expect(drift).toMatchObject({ inSync: true, differences: [] });
    expect(sim.calls(tenantId).filter((c) => c.write && c.status < 400)).toHaveLength(writes);
    expect(sim.calls(tenantId).filter((c) => c.status === 401 || c.status === 403)).toEqual([]);
  });
});
