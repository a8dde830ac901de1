/**
 * Corrections from the second audit against public sources: the module's long time limit for
 * Get-DistributionGroupMember, Enable-OrganizationCustomization's "already enabled" as success, a
 * group always created with an owner, and "only ... a manager of the group" as missing permission.
 * Against the HTTPS simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { PermissionMissingError } from "../functions/domain/errors.ts";
import { caught } from "./support/m365.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  h.sim.configure({ slowCmdlets: {} });
  await h?.close();
});

const gateway = (timeoutMs?: number) =>
  createM365Gateway({
    clientId: h.sim.clientId,
    clientSecret: h.sim.clientSecret,
    endpoints: h.sim.endpoints,
    retry: { baseDelayMs: 1, maxDelayMs: 10, ...(timeoutMs ? { timeoutMs } : {}) },
  });

describe("corrections", () => {
  it("gives Get-DistributionGroupMember more than the default time limit (the module gives it 3,600 s)", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    h.sim.configure({ slowCmdlets: { "Get-DistributionGroupMember": 600 } });
    try {
      const members = await gateway(300)
        .tenant(tenantId)
        .exchange.listDistributionGroupMembers(demo.existingGroup.name);
      expect(members.length).toBeGreaterThan(0);
    } finally {
      h.sim.configure({ slowCmdlets: {} });
    }
    const reads = h.sim.calls(tenantId).filter((c) => c.operation === "Get-DistributionGroupMember");
    expect(reads).toHaveLength(1);
  });

  it("takes Enable-OrganizationCustomization's 'already enabled' / 'not required' answer as success", async () => {
    const tenantId = crypto.randomUUID();
    h.sim.setDehydrated(tenantId, true);
    const exchange = gateway().tenant(tenantId).exchange;
    await exchange.enableOrganizationCustomization();
    await expect(exchange.enableOrganizationCustomization()).resolves.toBeUndefined();
    const calls = h.sim.calls(tenantId).filter((c) => c.operation === "Enable-OrganizationCustomization");
    expect(calls.map((c) => c.status)).toEqual([200, 400]);
  });

  it("creates a group with an owner even when the request names none (an app is no account Exchange could record)", async () => {
    const req = h.request({ region: "split", outboundGateway: false });
    expect(req.groups?.eu.owners).toBeUndefined();
    const done = await h.onboard(req);
    expect(done.status).toBe("succeeded");
    const created = h.sim.calls(req.tenantId).filter((c) => c.operation === "New-DistributionGroup");
    expect(created).toHaveLength(2);
    for (const call of created) {
      const members = call.parameters?.["Members"] as string[];
      expect(call.parameters?.["ManagedBy"]).toEqual([members[0]]);
      expect(call.status).toBe(200);
    }
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
  });

  it("reads 'only be performed by a manager of the group' as a missing permission, naming the role", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    h.sim.failNext(tenantId, "Add-DistributionGroupMember", {
      kind: "error",
      status: 400,
      exceptionType: "Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException",
      message: `You don't have sufficient permissions. This operation can only be performed by a manager of the group "${demo.existingGroup.name}".`,
    });
    const err = await caught(
      gateway().tenant(tenantId).exchange.addDistributionGroupMember(demo.existingGroup.name, demo.alice),
    );
    expect(err).toBeInstanceOf(PermissionMissingError);
    expect((err as PermissionMissingError).missing).toEqual([
      {
        cmdlet: "Add-DistributionGroupMember -BypassSecurityGroupManagerCheck",
        role: "Security Group Creation and Membership",
      },
    ]);
  });
});
