/**
 * The least-privilege script: escaping, content per tenant mode, the route (text/plain, partner
 * sees only its own tenants, ops all), the CLI command, and the script's Exchange steps run
 * against the simulator (twice: the second run creates nothing), after which the app needs no
 * admin role to onboard: through the API of either form, the admin having chosen the script.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExchangeClient } from "../functions/adapters/m365/exchange-client.ts";
import { RetryPolicy } from "../functions/adapters/m365/retry.ts";
import { TokenProvider } from "../functions/adapters/m365/tokens.ts";
import { runCli } from "../functions/cli/program.ts";
import { NotFoundError } from "../functions/domain/errors.ts";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { permissionsScript, psQuote, ROLE_GROUP_NAME } from "../functions/domain/permissions-script.ts";
import type { RegionMode } from "../functions/domain/provider.ts";
import { demoOnboardingRequest, servicePrincipalObjectId } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, type Json, startForm } from "./support/form.ts";

let f: FormHandle;
let partnerKey: string;

beforeAll(async () => {
  f = await startForm();
  partnerKey = (await f.createPartner("Script MSP")).apiKey;
});
afterAll(async () => {
  await f?.close();
});

/** A request for a fresh simulated tenant, valid against its demo mailboxes. */
const request = (options: { region: RegionMode; outboundGateway: boolean }) =>
  demoOnboardingRequest(randomUUID(), options);

/** The customer's admin session, as the script's Connect-ExchangeOnline: here the app itself while it still holds Exchange Administrator. */
const adminSession = (tenantId: string) => {
  const exchange = new ExchangeClient({
    endpoint: f.simulator.endpoints.exchange,
    tokens: new TokenProvider({
      clientId: f.simulator.clientId,
      credential: { clientSecret: f.simulator.clientSecret },
      authorityHost: f.simulator.endpoints.authorityHost,
      disableInstanceDiscovery: true,
    }),
    retry: new RetryPolicy({ baseDelayMs: 1, maxDelayMs: 10 }),
  });
  return (cmdlet: string, parameters: Record<string, unknown> = {}) =>
    exchange.invoke(tenantId, cmdlet, parameters);
};

/** Registers the tenant through the API; the admin consents choosing to run the script; the settled tenant. */
async function onboard(req: ReturnType<typeof request>): Promise<Json> {
  const posted = await f.call("POST", "/v1/tenants", { key: partnerKey, body: req });
  expect(posted.status).toBe(202);
  const page = await f.consent(posted.body.consentUrl, { leastPrivilege: "script" });
  expect(page.status, page.html).toBe(200);
  return await f.waitFor(req.tenantId, ["succeeded", "failed", "awaiting_permissions"]);
}

const APP = "11111111-2222-4333-8444-555555555555";
const TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

describe("the script", () => {
  it("quotes every value as a PowerShell literal: quotes doubled (typographic ones too), line breaks refused", () => {
    expect(psQuote("it's")).toBe("'it''s'");
    expect(psQuote("a\u2019b")).toBe("'a\u2019\u2019b'");
    expect(psQuote("$(Remove-Item x)")).toBe("'$(Remove-Item x)'");
    expect(() => psQuote("a\nRemove-Item x")).toThrow(TypeError);
    expect(() => psQuote("a\u2028b")).toThrow(TypeError);
    expect(() =>
      permissionsScript({
        tenantId: "x'; Remove-Item",
        appId: APP,
        request: { region: "us", outboundGateway: false },
      }),
    ).toThrow(TypeError);
  });

  it("holds exactly the roles of the tenant's mode, checks before each creation, and fills in the ids", () => {
    for (const request of [
      { region: "us", outboundGateway: false },
      { region: "split", outboundGateway: true },
    ] as const) {
      const script = permissionsScript({ tenantId: TENANT, appId: APP, request });
      const roles = /\$Roles = @\((.*)\)/
        .exec(script)?.[1]
        ?.split(", ")
        .map((r) => r.slice(1, -1));
      expect(roles).toEqual(requiredRoles(request));
      expect(script).toContain(`$AppId = '${APP}'`);
      expect(script).toContain(`$TenantId = '${TENANT}'`);
      expect(script).toContain(`$RoleGroupName = '${ROLE_GROUP_NAME}'`);
      for (const [check, create] of [
        ["Get-ServicePrincipal -Identity", "New-ServicePrincipal -AppId"],
        ["Get-RoleGroup -Identity", "= New-RoleGroup"],
        ["Get-RoleGroupMember -Identity", "Add-RoleGroupMember -Identity"],
        ["Get-ManagementRoleAssignment -Role", "New-ManagementRoleAssignment -Role"],
      ]) {
        expect(script.indexOf(check!), check).toBeGreaterThan(0);
        expect(script.indexOf(check!)).toBeLessThan(script.indexOf(create!));
      }
      expect(script).toContain("Connect-ExchangeOnline");
      // Before any change: the connected organisation is the script's tenant, then hydration.
      const firstChange = script.indexOf("New-ServicePrincipal -AppId");
      expect(script.indexOf("(Get-ConnectionInformation")).toBeGreaterThan(
        script.indexOf("Connect-ExchangeOnline"),
      );
      expect(script.indexOf("(Get-ConnectionInformation")).toBeLessThan(firstChange);
      expect(script).toMatch(/"\$\(\$connected\.TenantID\)" -ne \$TenantId\) \{\n {2}throw/);
      expect(script.indexOf("(Get-OrganizationConfig).IsDehydrated")).toBeLessThan(firstChange);
      // The service principal is read back after New-ServicePrincipal and its AppId checked.
      expect(
        script.indexOf("$exoSp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId\n"),
      ).toBeGreaterThan(firstChange);
      expect(script).toContain('"$($exoSp.AppId)" -ne $AppId');
      expect(script).toMatch(/-notmatch 'already a member'/);
    }
  });
});

describe("the script's Exchange steps against the simulator", () => {
  it("registers the service principal and the role group once; the app then onboards without the admin role", async () => {
    const req = request({ region: "split", outboundGateway: true });
    const clientId = f.simulator.clientId;
    const script = permissionsScript({ tenantId: req.tenantId, appId: clientId, request: req });
    const roles = /\$Roles = @\((.*)\)/
      .exec(script)![1]!
      .split(", ")
      .map((r) => r.slice(1, -1));
    const run = adminSession(req.tenantId);
    const absent = async (cmdlet: string, parameters: Record<string, unknown>) => {
      try {
        return (await run(cmdlet, parameters)).length === 0;
      } catch (err) {
        if (err instanceof NotFoundError) return true;
        throw err;
      }
    };
    const objectId = servicePrincipalObjectId(req.tenantId, clientId);
    const grant = async () => {
      let created = 0;
      if (await absent("Get-ServicePrincipal", { Identity: objectId })) {
        await run("New-ServicePrincipal", {
          AppId: clientId,
          ObjectId: objectId,
          DisplayName: "Journal onboarding app",
        });
        created++;
      }
      if (await absent("Get-RoleGroup", { Identity: ROLE_GROUP_NAME })) {
        await run("New-RoleGroup", { Name: ROLE_GROUP_NAME, Roles: roles, Description: "x" });
        created++;
      }
      const members = await run("Get-RoleGroupMember", { Identity: ROLE_GROUP_NAME });
      if (!members.some((m) => m["Identity"] === objectId)) {
        await run("Add-RoleGroupMember", { Identity: ROLE_GROUP_NAME, Member: objectId });
        created++;
      }
      return created;
    };
    // A role group that exists without one role gets it added (the script's else branch).
    await run("New-ServicePrincipal", {
      AppId: clientId,
      ObjectId: objectId,
      DisplayName: "Journal onboarding app",
    });
    await run("New-RoleGroup", { Name: ROLE_GROUP_NAME, Roles: roles.slice(1), Description: "x" });
    await run("New-ManagementRoleAssignment", { Role: roles[0], SecurityGroup: ROLE_GROUP_NAME });
    expect(await grant()).toBe(1);
    expect(await grant()).toBe(0);
    const assignments = await run("Get-ManagementRoleAssignment", { RoleAssignee: objectId });
    expect(assignments.map((a) => a["Role"]).sort()).toEqual([...roles].sort());

    await f.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false });
    expect((await onboard(req)).status).toBe("succeeded");
    const deleted = await f.call("DELETE", `/v1/tenants/${req.tenantId}`, { key: partnerKey });
    expect(deleted.status).toBe(202);
    expect((await f.waitFor(req.tenantId, ["offboarded", "failed"])).status).toBe("offboarded");
  });
});

describe("the script's Exchange steps, in the script's order, on a dehydrated organisation", () => {
  it("hydrates before creating anything, reads the service principal back, and can run again (already a member)", async () => {
    const req = request({ region: "us", outboundGateway: false });
    const clientId = f.simulator.clientId;
    await f.sim.setDehydrated(req.tenantId, true);
    const script = permissionsScript({ tenantId: req.tenantId, appId: clientId, request: req });
    const roles = /\$Roles = @\((.*)\)/
      .exec(script)![1]!
      .split(", ")
      .map((r) => r.slice(1, -1));
    const run = adminSession(req.tenantId);
    const objectId = servicePrincipalObjectId(req.tenantId, clientId);
    const tolerate = (pattern: RegExp) => (err: unknown) => {
      if (!pattern.test(String((err as Error).message))) throw err;
    };
    // Each step as the script runs it; they run in the order the script has them.
    const steps: Record<string, () => Promise<void>> = {
      "(Get-OrganizationConfig).IsDehydrated": async () => {
        const [org] = await run("Get-OrganizationConfig");
        if (org?.["IsDehydrated"] === true) {
          await run("Enable-OrganizationCustomization").catch(tolerate(/already enabled|not required/));
        }
      },
      "New-ServicePrincipal -AppId": async () => {
        const found = await run("Get-ServicePrincipal", { Identity: objectId }).catch((err: unknown) =>
          err instanceof NotFoundError ? [] : Promise.reject(err),
        );
        if (found.length === 0) {
          await run("New-ServicePrincipal", { AppId: clientId, ObjectId: objectId, DisplayName: "x" });
        }
        const [sp] = await run("Get-ServicePrincipal", { Identity: objectId });
        expect(String(sp?.["AppId"]).toLowerCase()).toBe(clientId.toLowerCase());
      },
      "New-RoleGroup -Name": async () => {
        const found = await run("Get-RoleGroup", { Identity: ROLE_GROUP_NAME }).catch((err: unknown) =>
          err instanceof NotFoundError ? [] : Promise.reject(err),
        );
        if (found.length === 0) await run("New-RoleGroup", { Name: ROLE_GROUP_NAME, Roles: roles });
      },
      // The member check may miss (another identity form): the add itself is safe to repeat.
      "Add-RoleGroupMember -Identity": async () => {
        await run("Add-RoleGroupMember", { Identity: ROLE_GROUP_NAME, Member: objectId }).catch(
          tolerate(/already a member/),
        );
      },
    };
    const order = Object.keys(steps).sort((a, b) => script.indexOf(a) - script.indexOf(b));
    expect(order.every((k) => script.includes(k))).toBe(true);
    for (const key of order) await steps[key]!();
    for (const key of order) await steps[key]!();
    const calls = await f.sim.calls(req.tenantId);
    expect(calls.filter((c) => c.operation === "Enable-OrganizationCustomization")).toHaveLength(1);
    expect(calls.filter((c) => c.write && c.status >= 400).map((c) => c.operation)).toEqual([
      "Add-RoleGroupMember",
    ]);

    await f.sim.setAppRoles(req.tenantId, { exchangeAdministrator: false });
    expect((await onboard(req)).status).toBe("succeeded");
  });
});

describe("GET /v1/tenants/{tenantId}/permissions-script and the CLI", () => {
  const get = (tenantId: string, key: string) =>
    fetch(`${f.url}/v1/tenants/${tenantId}/permissions-script`, {
      headers: { authorization: `Bearer ${key}` },
    });

  it("answers text/plain to the owner and ops, 404 to another partner, and the CLI prints or writes it", async () => {
    const mine = await f.createPartner("Owner MSP");
    const other = await f.createPartner("Other MSP");
    const tenantId = await f.onboard(mine.apiKey);
    await f.waitFor(tenantId, ["succeeded"]);

    const owner = await get(tenantId, mine.apiKey);
    expect(owner.status).toBe(200);
    expect(owner.headers.get("content-type")).toMatch(/^text\/plain/);
    const script = await owner.text();
    expect(script).toContain(`$TenantId = '${tenantId}'`);
    expect(script).toContain(`$AppId = '${f.simulator.clientId.toLowerCase()}'`);
    expect((await get(tenantId, f.opsKey)).status).toBe(200);
    const foreign = await get(tenantId, other.apiKey);
    expect(foreign.status).toBe(404);
    expect(await foreign.text()).not.toContain("$AppId");

    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runCli(["permissions-script", tenantId], {
      stdout: { write: (s: string) => stdout.push(s) },
      stderr: { write: (s: string) => stderr.push(s) },
      env: { ONBOARDING_API_URL: f.url, ONBOARDING_API_KEY: mine.apiKey },
      stderrIsTty: false,
      stdinIsTty: false,
    });
    expect(stderr.join("")).toBe("");
    expect(code).toBe(0);
    expect(stdout.join("")).toBe(`${script}\n`.replace(/\n\n$/, "\n"));

    const openapi = await (
      await fetch(`${f.url}/v1/openapi.json`, { headers: { authorization: `Bearer ${f.opsKey}` } })
    ).json();
    expect(
      Object.keys(openapi.paths["/v1/tenants/{tenantId}/permissions-script"].get.responses["200"].content),
    ).toEqual(["text/plain"]);
  });
});
