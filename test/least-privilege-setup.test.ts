/**
 * The least-privilege setup with a customer admin's own sign-in, against the simulator over
 * HTTPS: the real sign-in adapter (authorize, code redemption with Exchange.Manage), the real
 * InvokeCommand core with the admin's delegated token, and the setup's plan. Each step reads
 * first and reads back, so a second run writes nothing and an interrupted run is finished by
 * the next one.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAdminSignIn } from "../functions/adapters/m365/admin-sign-in.ts";
import type { AdminExchangeAccess } from "../functions/domain/least-privilege-consent.ts";
import { setUpLeastPrivilege } from "../functions/domain/least-privilege-setup.ts";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { ROLE_GROUP_NAME } from "../functions/domain/permissions-script.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";

const REDIRECT = "http://127.0.0.1:9/v1/consent/callback";
const PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const US = { region: "us", outboundGateway: true } as const;
const SPLIT = { region: "split", outboundGateway: true } as const;

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});

let tenantId: string;
beforeEach(() => {
  tenantId = randomUUID();
  // The app has consent and no Exchange role at all: only the setup can give it one.
  sim.setAppRoles(tenantId, { exchangeAdministrator: false });
});

/** Admin consent, then the admin's sign-in asking for Exchange, redeemed by the real adapter. */
async function signIn(exchange = true, budgetMs?: number) {
  const adapter = createAdminSignIn({
    clientId: sim.clientId,
    authorityHost: sim.endpoints.authorityHost,
    credential: { clientSecret: sim.clientSecret },
    exchange: {
      endpoint: sim.endpoints.exchange,
      retry: { baseDelayMs: 1 },
      ...(budgetMs !== undefined && { budgetMs }),
    },
  });
  const consent = await fetch(
    `${sim.endpoints.authorityHost}/${tenantId}/adminconsent?client_id=${sim.clientId}`,
  );
  expect(consent.status).toBe(200);
  const url = adapter.authorizeUrl({ tenantId, redirectUri: REDIRECT, state: "s", nonce: "n", exchange });
  const back = await fetch(url, { redirect: "manual" });
  const code = new URL(back.headers.get("location") ?? "").searchParams.get("code") ?? "";
  return {
    url,
    redeemed: await adapter.redeem({ tenantId, code, redirectUri: REDIRECT, nonce: "n", exchange }),
  };
}

async function adminAccess(budgetMs?: number): Promise<AdminExchangeAccess> {
  const { redeemed } = await signIn(true, budgetMs);
  if (!redeemed.ok || !redeemed.admin) throw new Error(`no admin access: ${JSON.stringify(redeemed)}`);
  return redeemed.admin;
}

const group = () => sim.tenant(tenantId).roleGroups.find((g) => g.name === ROLE_GROUP_NAME);
const writes = () => sim.calls(tenantId).filter((c) => c.service === "exchange" && c.write);

describe("least-privilege setup by the admin's sign-in", () => {
  it("asks for Exchange.Manage, and sets up exactly the required roles with the app as member", async () => {
    const { url } = await signIn();
    expect(new URL(url).searchParams.get("scope")).toBe(
      `openid profile ${sim.endpoints.exchange}/Exchange.Manage`,
    );
    const admin = await adminAccess();
    const outcome = await setUpLeastPrivilege(admin.run, {
      appId: sim.clientId,
      servicePrincipalId: admin.servicePrincipalId,
      request: US,
    });
    expect(outcome).toEqual({ kind: "done", roles: requiredRoles(US), writes: 2 });
    expect([...(group()?.roles ?? [])].sort()).toEqual([...requiredRoles(US)].sort());
    expect(group()?.members).toEqual([admin.servicePrincipalId]);
    expect(sim.tenant(tenantId).appExchangeAdministrator).toBe(false);
    // Every call was the admin's (delegated), none refused.
    expect(writes().map((c) => [c.operation, c.status])).toEqual([
      ["New-ServicePrincipal", 200],
      ["New-RoleGroup", 200],
    ]);
  });

  it("a second run reads, finds everything in place and writes nothing", async () => {
    const first = await adminAccess();
    const input = { appId: sim.clientId, servicePrincipalId: first.servicePrincipalId, request: US };
    expect((await setUpLeastPrivilege(first.run, input)).kind).toBe("done");
    const before = writes().length;
    const again = await setUpLeastPrivilege((await adminAccess()).run, input);
    expect(again).toMatchObject({ kind: "done", writes: 0 });
    expect(writes()).toHaveLength(before);
  });

  it("two sign-ins at once (another admin, the script): whichever creates first, both end done, one group", async () => {
    const [a, b] = [await adminAccess(), await adminAccess()];
    const input = { appId: sim.clientId, servicePrincipalId: a.servicePrincipalId, request: US };
    const outcomes = await Promise.all([
      setUpLeastPrivilege(a.run, input),
      setUpLeastPrivilege(b.run, input),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(["done", "done"]);
    expect(sim.tenant(tenantId).roleGroups.filter((g) => g.name === ROLE_GROUP_NAME)).toHaveLength(1);
    expect(group()?.members).toEqual([a.servicePrincipalId]);
  });

  it("an interrupted setup leaves no role group, and the next run finishes it", async () => {
    sim.failNext(
      tenantId,
      "New-RoleGroup",
      { kind: "error", status: 400, message: "The directory is not available." },
      1,
    );
    const admin = await adminAccess();
    const input = { appId: sim.clientId, servicePrincipalId: admin.servicePrincipalId, request: US };
    expect(await setUpLeastPrivilege(admin.run, input)).toMatchObject({ kind: "failed", step: "role-group" });
    expect(group()).toBeUndefined();
    const next = await setUpLeastPrivilege((await adminAccess()).run, input);
    // The service principal is there already: only the role group is created.
    expect(next).toMatchObject({ kind: "done", writes: 1 });
    expect(group()?.members).toEqual([admin.servicePrincipalId]);
  });

  it("a role group of a narrower mode gets the missing roles, and an app that is not a member is added", async () => {
    const admin = await adminAccess();
    const sp = admin.servicePrincipalId;
    await setUpLeastPrivilege(admin.run, { appId: sim.clientId, servicePrincipalId: sp, request: US });
    const removed = await admin.run("Remove-RoleGroupMember", { Identity: ROLE_GROUP_NAME, Member: sp });
    expect(removed).toEqual([]);
    const outcome = await setUpLeastPrivilege(admin.run, {
      appId: sim.clientId,
      servicePrincipalId: sp,
      request: SPLIT,
    });
    expect(outcome).toMatchObject({ kind: "done", roles: requiredRoles(SPLIT) });
    expect([...(group()?.roles ?? [])].sort()).toEqual([...requiredRoles(SPLIT)].sort());
    expect(group()?.members).toEqual([sp]);
    expect(writes().map((c) => c.operation)).toContain("Add-RoleGroupMember");
  });

  it("the setup keeps within its time budget (the callback's request): a slow cmdlet ends it, the next run finishes", async () => {
    // A budget of 700 ms against a cmdlet of 3 s: the setup's end well before the cmdlet's shows that
    // it was not waited for, with room for a loaded machine's overhead.
    sim.configure({ slowCmdlets: { "New-RoleGroup": 3_000 } });
    try {
      const admin = await adminAccess(700);
      const input = { appId: sim.clientId, servicePrincipalId: admin.servicePrincipalId, request: US };
      const started = Date.now();
      expect(await setUpLeastPrivilege(admin.run, input)).toMatchObject({
        kind: "failed",
        step: "role-group",
      });
      expect(Date.now() - started).toBeLessThan(2_800);
    } finally {
      sim.configure({ slowCmdlets: {} });
    }
    // Exchange finishes the abandoned cmdlet by itself; the admin's next run comes after that.
    const created = () => writes().some((c) => c.operation === "New-RoleGroup" && c.status === 200);
    for (let i = 0; i < 200 && !created(); i++) await new Promise((r) => setTimeout(r, 50));
    const next = await adminAccess();
    const again = await setUpLeastPrivilege(next.run, {
      appId: sim.clientId,
      servicePrincipalId: next.servicePrincipalId,
      request: US,
    });
    expect(again.kind).toBe("done");
    expect(writes().filter((c) => c.operation === "New-RoleGroup" && c.status === 200)).toHaveLength(1);
  });

  it("a dehydrated organisation gets Enable-OrganizationCustomization once; while it hydrates the setup stops", async () => {
    sim.setDehydrated(tenantId, true);
    sim.configure({ hydrationDelayMs: 60_000 });
    try {
      const admin = await adminAccess();
      const input = { appId: sim.clientId, servicePrincipalId: admin.servicePrincipalId, request: US };
      expect(await setUpLeastPrivilege(admin.run, input)).toEqual({ kind: "hydration-pending", writes: 1 });
      expect(await setUpLeastPrivilege(admin.run, input)).toMatchObject({ kind: "hydration-pending" });
      expect(
        writes()
          .filter((c) => c.status === 200)
          .map((c) => c.operation),
      ).toEqual(["Enable-OrganizationCustomization"]);
      expect(group()).toBeUndefined();
    } finally {
      sim.configure({ hydrationDelayMs: 0 });
    }
  });

  it("an admin without Exchange rights is refused by Exchange: nothing is made", async () => {
    sim.setSignInUser(tenantId, { roles: [PRIVILEGED_ROLE_ADMINISTRATOR] });
    const admin = await adminAccess();
    const outcome = await setUpLeastPrivilege(admin.run, {
      appId: sim.clientId,
      servicePrincipalId: admin.servicePrincipalId,
      request: US,
    });
    expect(outcome).toMatchObject({ kind: "failed", step: "hydration", writes: 0 });
    expect(
      sim
        .calls(tenantId)
        .filter((c) => c.service === "exchange")
        .map((c) => c.status),
    ).toContain(401);
    expect(writes()).toEqual([]);
    expect(sim.tenant(tenantId).servicePrincipals).toEqual([]);
  });

  it("a declined Exchange permission gives no Exchange access; a sign-in without the choice does not ask", async () => {
    sim.setSignInUser(tenantId, { declineExchange: true });
    const declined = (await signIn()).redeemed;
    expect(declined).toMatchObject({ ok: true, exchangeDeclined: true });
    expect(declined.ok && declined.admin).toBeFalsy();
    sim.setSignInUser(tenantId, null);
    const script = await signIn(false);
    expect(new URL(script.url).searchParams.get("scope")).toBe("openid profile");
    expect(script.redeemed.ok && script.redeemed.admin).toBeFalsy();
  });
});

describe("the simulator's Exchange for a signed-in user", () => {
  /** The code grant by hand: the raw delegated token, as Entra answers it. */
  async function rawToken(scope: string): Promise<{ access_token: string; scope: string }> {
    await fetch(`${sim.endpoints.authorityHost}/${tenantId}/adminconsent?client_id=${sim.clientId}`);
    const authorize = new URL(`${sim.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({
      client_id: sim.clientId,
      response_type: "code",
      redirect_uri: REDIRECT,
      scope,
      nonce: "n",
    }))
      authorize.searchParams.set(k, v);
    const back = await fetch(authorize, { redirect: "manual" });
    const code = new URL(back.headers.get("location") ?? "").searchParams.get("code") ?? "";
    const token = await fetch(`${sim.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: sim.clientId,
        client_secret: sim.clientSecret,
        code,
        redirect_uri: REDIRECT,
        scope,
      }),
    });
    return (await token.json()) as { access_token: string; scope: string };
  }
  const invoke = (token: string, anchor: "APP" | "UPN") =>
    fetch(`${sim.endpoints.exchange}/adminapi/beta/${tenantId}/InvokeCommand`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "x-anchormailbox": `${anchor}:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ CmdletInput: { CmdletName: "Get-RoleGroup", Parameters: {} } }),
    });

  it("a delegated token runs as the user, with the UPN anchor only; without Exchange.Manage there is no Exchange token", async () => {
    const granted = await rawToken(`openid profile ${sim.endpoints.exchange}/Exchange.Manage`);
    expect(granted.scope).toContain("Exchange.Manage");
    expect((await invoke(granted.access_token, "UPN")).status).toBe(200);
    expect((await invoke(granted.access_token, "APP")).status).toBe(400);
    const plain = await rawToken("openid profile");
    expect((await invoke(plain.access_token, "UPN")).status).toBe(401);
    sim.setSignInUser(tenantId, { roles: [PRIVILEGED_ROLE_ADMINISTRATOR] });
    const notAdmin = await rawToken(`openid profile ${sim.endpoints.exchange}/Exchange.Manage`);
    const refused = await invoke(notAdmin.access_token, "UPN");
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("User is not allowed to call Get-RoleGroup");
  });
});
