/**
 * A tenant whose app holds only the least-privilege role group (no Exchange Administrator) is
 * drift-checked like any other: every read the check makes is in the group's roles.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, startForm } from "./support/form.ts";

describe("drift checks with the role group only", () => {
  let rt: FormHandle;
  beforeAll(async () => {
    rt = await startForm({ env: { DRIFT_CHECK_INTERVAL: "0" } });
  });
  afterAll(async () => {
    await rt?.close();
  });

  it("a tenant onboarded without the admin role is checked in sync, with no refused call", async () => {
    const sim = rt.sim;
    const partner = await rt.createPartner("Least privilege MSP");
    const tenantId = randomUUID();
    const request = { region: "us", outboundGateway: true } as const;
    await sim.setAppRoles(tenantId, { exchangeAdministrator: false, roles: requiredRoles(request) });
    const created = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: { tenantId, customerName: "contoso", ndrAddress: demoMailboxes(tenantId).admin, ...request },
    });
    expect(created.status).toBe(202);
    expect((await rt.consent(created.body.consentUrl)).status).toBe(200);
    expect((await rt.waitFor(tenantId, ["succeeded", "failed", "awaiting_permissions"])).status).toBe(
      "succeeded",
    );

    const writes = (await sim.calls(tenantId)).filter((c) => c.write && c.status < 400).length;
    expect(
      (await rt.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key: partner.apiKey })).status,
    ).toBe(202);
    await rt.idle();
    const drift = (await rt.call("GET", `/v1/tenants/${tenantId}/drift`, { key: partner.apiKey })).body;
    expect(drift).toMatchObject({ inSync: true, differences: [] });
    expect((await sim.calls(tenantId)).filter((c) => c.write && c.status < 400)).toHaveLength(writes);
    expect((await sim.calls(tenantId)).filter((c) => c.status === 401 || c.status === 403)).toEqual([]);
  });
});
