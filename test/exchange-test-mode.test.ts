/**
 * A connector of ours that the customer's admin put in test mode (`Set-OutboundConnector
 * -TestMode $true`): Exchange leaves it out of Get-OutboundConnector unless asked
 * (docs/m365-fidelity.md O1, O15). The service still finds it, takes it out of test mode (the
 * guide's connector is turned on and active), validates it again, and offboarding removes it,
 * or puts an adopted one back as it was. Real workflow, store and clients against the strict
 * simulator.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

const connectorSets = (tenantId: string) =>
  h.sim
    .calls(tenantId)
    .filter((c) => c.operation === "Set-OutboundConnector" && c.status < 400)
    .map((c) => c.parameters);
const putInTestMode = (tenantId: string) =>
  h.sim.tamper(tenantId, { action: "set-connector", name: AREA1.connectorName, changes: { testMode: true } });

describe("a connector in test mode", () => {
  it("of ours: a run takes it out of test mode and validates it again; offboarding removes it", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    await putInTestMode(req.tenantId);

    const again = await h.rerun(req.tenantId);
    expect([again.status, again.error]).toEqual(["succeeded", undefined]);
    expect(connectorSets(req.tenantId)).toContainEqual(expect.objectContaining({ TestMode: false }));
    expect(h.sim.tenant(req.tenantId).connectors).toHaveLength(1);
    expect(h.sim.tenant(req.tenantId).connectors[0]).toMatchObject({ testMode: false, isValidated: true });

    await putInTestMode(req.tenantId);
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(req.tenantId).connectors).toEqual([]);
  });

  it("adopted: onboarding takes it out of test mode, offboarding puts test mode back", async () => {
    const tenantId = randomUUID();
    await h.m365.tenant(tenantId).exchange.newOutboundConnector({
      name: AREA1.connectorName,
      comment: AREA1.connectorName,
      connectorType: "Partner",
      recipientDomains: [AREA1.regions.us.recipientDomain],
      smartHosts: [...AREA1.regions.us.smartHosts],
      useMxRecord: false,
      tlsSettings: "CertificateValidation",
      enabled: true,
    });
    await putInTestMode(tenantId);
    const req = h.request({ tenantId, region: "us", outboundGateway: true });
    const done = await h.onboard(req);
    expect([done.status, done.error]).toEqual(["succeeded", undefined]);
    expect(h.sim.tenant(tenantId).connectors[0]).toMatchObject({ testMode: false, isValidated: true });

    expect((await h.offboard(tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(tenantId).connectors).toHaveLength(1);
    expect(h.sim.tenant(tenantId).connectors[0]).toMatchObject({ testMode: true });
  });
});
