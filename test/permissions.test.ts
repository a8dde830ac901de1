/**
 * Least privilege: a tenant whose app holds only the role group (no Exchange Administrator)
 * onboards and offboards; one that misses a role waits in `awaiting_permissions` naming it, and a
 * retry after the grant finishes. Against the HTTPS simulator, which models role groups.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { PermissionMissingError } from "../functions/domain/errors.ts";
import { MANAGEMENT_ROLES, requiredCmdlets, requiredRoles } from "../functions/domain/permissions.ts";
import type { Tenant } from "../functions/domain/tenant.ts";
import { ROLE_CMDLETS } from "../infra/local/m365-simulator/index.ts";
import { caught } from "./support/m365.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

const stepStatus = (tenant: Tenant) => Object.fromEntries(tenant.steps.map((s) => [s.name, s.status]));
const without = (roles: readonly string[], role: string) => roles.filter((r) => r !== role);

describe("the product's role table", () => {
  it("names, for every cmdlet a tenant may need, a role that holds it in Exchange (as the simulator models it)", () => {
    for (const mode of [
      { region: "us", outboundGateway: true },
      { region: "split", outboundGateway: true },
    ] as const) {
      const roles = requiredRoles(mode);
      for (const cmdlet of requiredCmdlets(mode)) {
        const holders = roles.filter((r) => ROLE_CMDLETS[r]?.includes(cmdlet));
        expect(holders, cmdlet).not.toEqual([]);
      }
    }
    expect(requiredRoles({ region: "split", outboundGateway: true })).toEqual([...MANAGEMENT_ROLES]);
    expect(requiredRoles({ region: "us", outboundGateway: false })).not.toContain(
      "Remote and Accepted Domains",
    );
  });
});

describe("a tenant with the role group and no admin role", () => {
  it.each([
    ["us", false],
    ["eu", true],
    ["split", true],
  ] as const)("%s, outboundGateway=%s: onboards, then offboards", async (region, outboundGateway) => {
    const req = h.request({ region, outboundGateway });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles: requiredRoles(req) });
    const done = await h.onboard(req);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    expect(done.missingPermissions).toBeUndefined();
    const calls = h.sim.calls(req.tenantId).filter((c) => c.service === "exchange");
    expect(calls.filter((c) => c.status === 401 || c.status === 403)).toEqual([]);
    expect(calls.some((c) => c.operation === "EXOModuleFile")).toBe(true);

    const gone = await h.offboard(req.tenantId);
    expect(gone.error).toBeUndefined();
    expect(gone.status).toBe("offboarded");
    const state = h.sim.tenant(req.tenantId);
    expect(state.journalRules).toEqual([]);
    expect(state.connectors).toEqual([]);
    expect(state.groups.filter((g) => !g.seeded)).toEqual([]);
  });

  it("split: a group the customer's admin renamed gets its name back (Set-DistributionGroup and its switch are in the roles)", async () => {
    const req = h.request({ region: "split" });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles: requiredRoles(req) });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const eu = req.groups!.eu.name;
    h.sim.tamper(req.tenantId, { action: "rename-group", name: eu, newName: "Renamed by the admin" });
    const done = await h.rerun(req.tenantId);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    const renames = h.sim.calls(req.tenantId).filter((c) => c.operation === "Set-DistributionGroup");
    expect(renames.map((c) => c.status)).toEqual([200]);
    expect(h.sim.tenant(req.tenantId).groups.map((g) => g.name)).toContain(eu);
  });
});

describe("a tenant missing a role", () => {
  it("ends awaiting_permissions naming each refused cmdlet and its role; a retry after the grant finishes", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    const roles = requiredRoles(req);
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles: without(roles, "Journaling") });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_permissions");
    expect(waiting.error?.code).toBe("M365_PERMISSION_MISSING");
    expect(waiting.error?.message).toContain(`/v1/tenants/${req.tenantId}/permissions-script`);
    // What the customer's admin does, once: the cmdlets are in missingPermissions, not repeated.
    expect(waiting.error?.message).not.toContain("New-JournalRule");
    expect(waiting.error?.message.match(/permissions-script/g)).toHaveLength(1);
    expect(waiting.error?.message).not.toContain("npx");
    expect(waiting.missingPermissions).toEqual(
      [
        "New-JournalRule",
        "Set-JournalRule",
        "Enable-JournalRule",
        "Disable-JournalRule",
        "Remove-JournalRule",
      ].map((cmdlet) => ({ cmdlet, role: "Journaling" })),
    );
    expect(stepStatus(waiting)["check-access"]).toBe("failed");
    expect(h.sim.calls(req.tenantId).filter((c) => c.write)).toEqual([]);
    const events = await h.store.listEvents(req.tenantId);
    expect(events.map((e) => e.type)).toEqual([
      "tenant.onboarding.started",
      "tenant.onboarding.awaiting_permissions",
    ]);

    h.sim.setAppRoles(req.tenantId, { roles });
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expect(done.missingPermissions).toBeUndefined();
    expect(done.error).toBeUndefined();
  });

  it("needs only what the mode uses: PATCH outboundGateway false from awaiting_permissions, then retry, without the connector role", async () => {
    const req = h.request({ region: "us", outboundGateway: true });
    const withoutConnector = requiredRoles({ region: "us", outboundGateway: false });
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles: withoutConnector });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_permissions");
    expect(new Set(waiting.missingPermissions?.map((m) => m.role))).toEqual(
      new Set(["Remote and Accepted Domains"]),
    );
    const corrected = await h.service.correct({ role: "ops" }, req.tenantId, { outboundGateway: false });
    expect(corrected.status).toBe("awaiting_permissions");
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expect(h.sim.tenant(req.tenantId).connectors).toEqual([]);
  });

  it("without the preflight (no module file), a cmdlet refused in a later step still ends awaiting_permissions", async () => {
    const req = h.request({ region: "eu", outboundGateway: false });
    const roles = requiredRoles(req);
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles: without(roles, "Journaling") });
    h.sim.failNext(req.tenantId, "EXOModuleFile", { kind: "error", status: 404, message: "Not found." });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_permissions");
    expect(stepStatus(waiting)).toMatchObject({
      "check-access": "succeeded",
      "journal-settings": "succeeded",
      "journal-rules": "failed",
    });
    expect(waiting.error?.code).toBe("M365_PERMISSION_MISSING");
    expect(waiting.missingPermissions).toEqual([{ cmdlet: "New-JournalRule", role: "Journaling" }]);
    const events = (await h.store.listEvents(req.tenantId)).map((e) => e.type);
    expect(events.at(-1)).toBe("tenant.onboarding.awaiting_permissions");

    h.sim.setAppRoles(req.tenantId, { roles });
    const done = await h.retry(req.tenantId);
    expect(done.status).toBe("succeeded");
    expect(done.missingPermissions).toBeUndefined();
  });

  it("a cmdlet Exchange refuses during a step fails it with M365_PERMISSION_MISSING, in either answer form", async () => {
    const m365 = createM365Gateway({
      clientId: h.sim.clientId,
      clientSecret: h.sim.clientSecret,
      endpoints: h.sim.endpoints,
      retry: { baseDelayMs: 1, maxDelayMs: 10 },
    });
    for (const answer of ["not-allowed", "not-recognized"] as const) {
      h.sim.configure({ deniedCmdletAnswer: answer });
      const tenantId = crypto.randomUUID();
      h.sim.setAppRoles(tenantId, { exchangeAdministrator: false, roles: ["View-Only Configuration"] });
      const err = await caught(
        m365.tenant(tenantId).exchange.setTransportConfig({ journalingReportNdrTo: "x@example.com" }),
      );
      expect(err, answer).toBeInstanceOf(PermissionMissingError);
      expect((err as PermissionMissingError).missing).toEqual([
        { cmdlet: "Set-TransportConfig", role: "Organization Transport Settings" },
      ]);
      expect((err as Error).message).toMatch(/permissions-script/);
      // A refusal is not a stale token: no second token, no second call.
      expect(h.sim.calls(tenantId).filter((c) => c.operation === "Set-TransportConfig")).toHaveLength(1);
    }
    h.sim.configure({ deniedCmdletAnswer: "not-allowed" });
  });

  it("offboarding a split tenant without the switch's role fails naming Security Group Creation and Membership", async () => {
    const req = h.request({ region: "split", outboundGateway: false });
    const roles = requiredRoles(req);
    h.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false, roles });
    expect((await h.onboard(req)).status).toBe("succeeded");
    h.sim.setAppRoles(req.tenantId, { roles: without(roles, "Security Group Creation and Membership") });
    const failed = await h.offboard(req.tenantId);
    expect(failed.status).toBe("offboarding_failed");
    expect(failed.error?.code).toBe("M365_PERMISSION_MISSING");
    expect(failed.error?.message).toMatch(
      /Remove-DistributionGroup -BypassSecurityGroupManagerCheck.*Security Group Creation and Membership/,
    );
    h.sim.setAppRoles(req.tenantId, { roles });
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
  });
});
