/**
 * Exchange as it really behaves towards an app's access: an app with consent and no Exchange role
 * at all is refused with 403 "The role assigned to application ... isn't supported in this
 * scenario" (not an empty cmdlet list), and the tenant waits in `awaiting_permissions` with every
 * role missing. Against the HTTPS simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { NoExchangeRoleError, PermissionMissingError } from "../functions/domain/errors.ts";
import { requiredCmdlets, requiredRoles, roleOf } from "../functions/domain/permissions.ts";
import { caught } from "./support/m365.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("an app with consent and no Exchange role", () => {
  it("the simulator refuses the module file and every cmdlet with 403 'isn't supported in this scenario'", async () => {
    const tenantId = crypto.randomUUID();
    h.sim.setAppRoles(tenantId, { exchangeAdministrator: false });
    const m365 = createM365Gateway({
      clientId: h.sim.clientId,
      clientSecret: h.sim.clientSecret,
      endpoints: h.sim.endpoints,
      retry: { baseDelayMs: 1, maxDelayMs: 10 },
    });
    const exchange = m365.tenant(tenantId).exchange;
    for (const call of [() => exchange.availableCmdlets(), () => exchange.getTransportConfig()]) {
      const err = await caught(call());
      expect(err).toBeInstanceOf(NoExchangeRoleError);
      expect(err).toBeInstanceOf(PermissionMissingError);
      expect(err.message).toMatch(/role assigned to application .* isn't supported in this scenario/);
    }
    const statuses = h.sim
      .calls(tenantId)
      .filter((c) => c.service === "exchange")
      .map((c) => [c.operation, c.status]);
    expect(statuses).toEqual([
      ["EXOModuleFile", 403],
      ["Get-TransportConfig", 403],
    ]);
  });

  it("ends awaiting_permissions with every role missing, not failed; a retry after the grant finishes", async () => {
    const req = h.request({ region: "split", outboundGateway: true });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_permissions");
    expect(waiting.error?.code).toBe("M365_PERMISSION_MISSING");
    expect(new Set(waiting.missingPermissions?.map((m) => m.role))).toEqual(
      new Set(requiredCmdlets(req).map((c) => roleOf(c))),
    );
    expect(waiting.missingPermissions?.map((m) => m.cmdlet).sort()).toEqual([...requiredCmdlets(req)].sort());
    expect(h.sim.calls(req.tenantId).filter((c) => c.write)).toEqual([]);

    h.sim.setAppRoles(req.tenantId, { roles: requiredRoles(req) });
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expect(done.missingPermissions).toBeUndefined();
  });
});

describe("an unknown group member", () => {
  it("fails check-access with INVALID_GROUP_MEMBER naming each unknown member, before any change", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    const req = h.request({
      tenantId,
      region: "split",
      outboundGateway: true,
      groups: {
        eu: {
          name: "Journal EU",
          primarySmtpAddress: `journal-eu@${demo.domain}`,
          members: [demo.alice, `nobody@${demo.customDomain}`],
        },
        us: {
          name: "Journal US",
          primarySmtpAddress: `journal-us@${demo.domain}`,
          members: [demo.bob, "ghost"],
        },
      },
    });
    const failed = await h.onboard(req);
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toBe("INVALID_GROUP_MEMBER");
    expect(failed.error?.message).toContain(`nobody@${demo.customDomain}`);
    expect(failed.error?.message).toContain("ghost");
    expect(failed.steps.find((s) => s.name === "check-access")?.status).toBe("failed");
    expect(h.sim.calls(tenantId).filter((c) => c.write)).toEqual([]);
    expect(h.sim.tenant(tenantId).groups.map((g) => g.name)).not.toContain("Journal US");
  });

  it("checks a long member list with one listing of the organisation's recipients, not a read per member", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    const many = await h.sim.addMailboxes(tenantId, { count: 120, prefix: "m" });
    const members = [...many, `nobody@${demo.customDomain}`];
    const req = h.request({
      tenantId,
      region: "split",
      groups: {
        eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members },
        us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
      },
    });
    const failed = await h.onboard(req);
    expect(failed.error?.code).toBe("INVALID_GROUP_MEMBER");
    expect(failed.error?.message).toMatch(
      /^.*1 requested group member\(s\) are not recipients in this tenant: nobody@/,
    );
    const recipientReads = h.sim.calls(tenantId).filter((c) => c.operation === "Get-Recipient");
    // The members: pages of one listing (the simulator pages by 2); one by one only the NDR
    // address and each new group's default owner (its first member, test/exchange-corrections.test.ts).
    expect(recipientReads.filter((c) => c.parameters?.Identity !== undefined)).toHaveLength(3);
    expect(recipientReads.filter((c) => c.parameters?.ResultSize === "Unlimited").length).toBeGreaterThan(0);
    expect(h.sim.calls(tenantId).filter((c) => c.write)).toEqual([]);
  });
});

describe("role assignments that reach Exchange late", () => {
  it("a tenant awaiting permissions re-checks by itself (reads only) and goes on once granted, without a retry", async () => {
    const req = h.request({ region: "us", outboundGateway: false });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false });
    await h.service.register("p_test", req);
    for (let i = 0; i < 500; i++) {
      const stored = await h.store.getTenant(req.tenantId);
      if (stored?.tenant.status === "awaiting_permissions") break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await h.store.getTenant(req.tenantId))?.tenant.status).toBe("awaiting_permissions");
    const runBefore = (await h.store.getTenant(req.tenantId))!.internals.run;
    // The admin grants the roles; Exchange sees them a while later.
    await new Promise((r) => setTimeout(r, 400));
    h.sim.setAppRoles(req.tenantId, { roles: requiredRoles(req) });
    await h.engine.idle();
    const stored = (await h.store.getTenant(req.tenantId))!;
    expect(stored.tenant.status).toBe("succeeded");
    expect(stored.internals.run).toBe(runBefore);
    // Before the grant, the re-checks only read.
    const modules = h.sim.calls(req.tenantId).filter((c) => c.operation === "EXOModuleFile");
    expect(modules.length).toBeGreaterThan(2);
    const firstWrite = h.sim.calls(req.tenantId).find((c) => c.write);
    expect(firstWrite?.seq).toBeGreaterThan(modules.at(-1)!.seq);
  });

  it("never granted: re-checks for a few hours (scaled) with reads only, then waits for a retry", async () => {
    const req = h.request({ region: "us", outboundGateway: false });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_permissions");
    const modules = h.sim.calls(req.tenantId).filter((c) => c.operation === "EXOModuleFile");
    // The first check, then ten re-checks after a first wait (5 min growing to 30 min, about 3 hours).
    expect(modules).toHaveLength(11);
    expect(h.sim.calls(req.tenantId).filter((c) => c.write)).toEqual([]);
    const events = (await h.store.listEvents(req.tenantId)).map((e) => e.type);
    expect(events.filter((t) => t === "tenant.onboarding.awaiting_permissions")).toHaveLength(1);
  });
});
