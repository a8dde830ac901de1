/**
 * The least-privilege link of a tenant waiting in `awaiting_permissions`, over HTTP against either
 * form of the service (test/support/form.ts) with the real identity client and the simulator: its
 * `consentUrl` leads the customer's admin to the consent page, their sign-in sets the app's role
 * group up and the tenant is retried (succeeded with no PowerShell); a link of a partner that no
 * longer holds the tenant, or a tenant no longer waiting, does nothing and shows one page that
 * reveals nothing.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requiredRoles } from "../functions/domain/permissions.ts";
import { ROLE_GROUP_NAME } from "../functions/domain/permissions-script.ts";
import { consentAsAdmin, TestBrowser } from "./support/browser.ts";
import { runCliProcess } from "./support/cli-process.ts";
import { type FormHandle, type Json, startForm } from "./support/form.ts";

const PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const REQUEST = { region: "us", outboundGateway: true } as const;
const WAITING = ["succeeded", "failed", "awaiting_permissions"] as const;
const NOTHING_TO_SET_UP = "Nothing to set up";

describe("the least-privilege link of a tenant awaiting permissions", () => {
  let rt: FormHandle;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    rt = await startForm();
    keyA = (await rt.createPartner("Partner A")).apiKey;
    keyB = (await rt.createPartner("Partner B")).apiKey;
  });
  afterAll(async () => {
    await rt?.close();
  });

  const get = async (key: string, tenantId: string): Promise<Json> =>
    (await rt.call("GET", `/v1/tenants/${tenantId}`, { key })).body;
  const changes = async (key: string, tenantId: string): Promise<Json[]> =>
    (await rt.call("GET", `/v1/tenants/${tenantId}/changes?limit=100`, { key })).body.items;

  /**
   * The partner asks for the tenant; its admin consents choosing the script: awaiting_permissions.
   * The tenant as the partner reads it, with `firstConsentUrl`: the link the admin consented through.
   */
  async function waitingForScript(key: string, tenantId = randomUUID()): Promise<Json> {
    const sim = rt.sim;
    await sim.setAppRoles(tenantId, { exchangeAdministrator: false });
    const created = await rt.call("POST", "/v1/tenants", {
      key,
      body: {
        tenantId,
        customerName: `c-${randomUUID().slice(0, 8)}`,
        ndrAddress: (await sim.demo(tenantId)).admin,
        ...REQUEST,
      },
    });
    expect(created.status).toBe(202);
    const bound = await rt.consent(created.body.consentUrl, { leastPrivilege: "script" });
    expect(bound.html).toContain("You chose to run the permissions script");
    const tenant = await rt.waitFor(tenantId, WAITING);
    expect(tenant.status).toBe("awaiting_permissions");
    return { ...(await get(key, tenantId)), firstConsentUrl: created.body.consentUrl };
  }

  it("script chosen first, then the link: the admin's sign-in sets least privilege up and the tenant succeeds with no PowerShell", async () => {
    const sim = rt.sim;
    const tenant = await waitingForScript(keyA);
    const { tenantId } = tenant;
    // The partner's own link, to the service's consent page (not Entra's consent again).
    expect(tenant.consentUrl).toMatch(/\/v1\/consent\/callback\?state=/);
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);

    const browser = new TestBrowser();
    const page = await browser.open(tenant.consentUrl);
    expect(page.status).toBe(200);
    expect(page.html).toContain("Set up least privilege for Partner A");
    expect(page.html).toContain(tenantId);
    expect(page.html).not.toContain("least_privilege");
    const done = await browser.submit(page);
    expect(done.status).toBe(200);
    expect(done.html).toContain("Least privilege set up");
    // Retried at once: check-access runs again (no wait for the re-check).
    expect((await get(keyA, tenantId)).status).not.toBe("awaiting_permissions");
    const after = await rt.waitFor(tenantId, WAITING);
    expect(after.status).toBe("succeeded");
    expect(after.consentUrl).toBeUndefined();

    const state = await sim.tenant(tenantId);
    expect(state.appExchangeAdministrator).toBe(false);
    const groups = state.roleGroups.filter((g) => g.members.length > 0);
    expect(groups.map((g) => g.name)).toEqual([ROLE_GROUP_NAME]);
    expect([...groups[0]!.roles].sort()).toEqual([...requiredRoles(REQUEST)].sort());
    const admin = (await changes(keyA, tenantId)).filter((c: Json) => c.actor === "customer-admin");
    expect(admin.map((c: Json) => c.cmdlet).sort()).toEqual(["New-RoleGroup", "New-ServicePrincipal"]);

    // The link once the tenant left awaiting_permissions: a clear page, nothing done.
    const trail = await changes(keyA, tenantId);
    const exchangeCalls = (await sim.calls(tenantId)).length;
    const again = await consentAsAdmin(tenant.consentUrl);
    expect(again.status).toBe(200);
    expect(again.html).toContain(NOTHING_TO_SET_UP);
    expect(TestBrowser.formUrl(again)).toBeUndefined();
    expect(await changes(keyA, tenantId)).toEqual(trail);
    expect((await sim.calls(tenantId)).length).toBe(exchangeCalls);
    expect((await get(keyA, tenantId)).status).toBe("succeeded");
  });

  it("a dehydrated organisation: the link's sign-in enables customization and the tenant waits again; the link works once Exchange is ready", async () => {
    const sim = rt.sim;
    const tenantId = randomUUID();
    await sim.setDehydrated(tenantId, true);
    await sim.configure({ hydrationDelayMs: 3_600_000 });
    try {
      const tenant = await waitingForScript(keyA, tenantId);
      const page = await consentAsAdmin(tenant.consentUrl);
      expect(page.html).toContain("Least privilege is not set up yet");
      expect(page.html).toContain("still preparing your organisation");
      const again = await rt.waitFor(tenantId, WAITING);
      expect(again).toMatchObject({
        status: "awaiting_permissions",
        error: { code: "M365_PERMISSION_MISSING" },
      });
      expect(again.missingPermissions.length).toBeGreaterThan(0);
      // Retried by the link's sign-in: check-access ran again and the tenant waits a second time.
      const events = (await rt.call("GET", `/v1/tenants/${tenantId}/events?limit=100`, { key: keyA })).body
        .items;
      expect(events.filter((e: Json) => e.type === "tenant.onboarding.awaiting_permissions")).toHaveLength(2);
      expect(again.consentUrl).toMatch(/\/v1\/consent\/callback\?state=/);
      expect((await changes(keyA, tenantId)).map((c: Json) => [c.cmdlet, c.actor])).toEqual([
        ["Enable-OrganizationCustomization", "customer-admin"],
      ]);
      expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    } finally {
      await sim.configure({ hydrationDelayMs: 0 });
    }
    await sim.setDehydrated(tenantId, false);
    const ready = await get(keyA, tenantId);
    expect((await consentAsAdmin(ready.consentUrl)).html).toContain("Least privilege set up");
    expect((await rt.waitFor(tenantId, WAITING)).status).toBe("succeeded");
  });

  it("a declined Exchange permission or an admin without Exchange rights: the page says so, nothing made, the tenant still waits", async () => {
    const sim = rt.sim;
    const tenant = await waitingForScript(keyA);
    const { tenantId } = tenant;
    await sim.setSignInUser(tenantId, { declineExchange: true });
    const declined = await consentAsAdmin(tenant.consentUrl);
    expect(declined.html).toContain("Least privilege is not set up yet");
    expect(declined.html).toContain("did not allow Exchange management");
    expect((await sim.calls(tenantId)).filter((c) => c.service === "exchange" && c.write)).toEqual([]);
    expect((await get(keyA, tenantId)).status).toBe("awaiting_permissions");

    await sim.setSignInUser(tenantId, { roles: [PRIVILEGED_ROLE_ADMINISTRATOR] });
    const refused = await consentAsAdmin((await get(keyA, tenantId)).consentUrl);
    expect(refused.html).toContain("could not be set up with your sign-in");
    expect(refused.html).toContain("link again later to retry with your sign-in");
    expect((await rt.waitFor(tenantId, WAITING)).status).toBe("awaiting_permissions");
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    expect(await changes(keyA, tenantId)).toEqual([]);
  });

  it("the first consent link opened again, with the setup chosen this time, does the same", async () => {
    const sim = rt.sim;
    const { tenantId, firstConsentUrl } = await waitingForScript(keyA);
    const again = await rt.consent(firstConsentUrl, { leastPrivilege: "setup" });
    expect(again.html).toContain("Least privilege set up");
    expect((await rt.waitFor(tenantId, WAITING)).status).toBe("succeeded");
    expect((await sim.tenant(tenantId)).roleGroups.map((g) => g.name)).toEqual([ROLE_GROUP_NAME]);
  });

  it("GET renews the link; the tenant still waits with it while nobody uses it", async () => {
    const tenant = await waitingForScript(keyA);
    const again = await get(keyA, tenant.tenantId);
    expect(again.status).toBe("awaiting_permissions");
    expect(again.consentUrl).toMatch(/\/v1\/consent\/callback\?state=/);
    expect(again.consentUrl).not.toBe(tenant.consentUrl);
    // The partner's CLI shows it, and says what it is for.
    const shown = await runCliProcess(["tenants", "show", tenant.tenantId], {
      ONBOARDING_API_URL: rt.url,
      ONBOARDING_API_KEY: keyA,
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Consent URL\s+http\S+\/v1\/consent\/callback\?state=\S+$/m);
    expect(shown.stdout).toContain("Send the customer's admin the Consent URL above");
  });

  it("a page opened while waiting and continued after the tenant went on (the script and a retry): nothing done", async () => {
    const sim = rt.sim;
    const tenant = await waitingForScript(keyA);
    const { tenantId } = tenant;
    const browser = new TestBrowser();
    const page = await browser.open(tenant.consentUrl);
    expect(page.html).toContain("Set up least privilege");
    // The admin ran the script after all; the partner retried.
    await sim.setAppRoles(tenantId, { roles: requiredRoles(REQUEST) });
    // The tenant re-checks by itself too (scaled down here): a retry after it went on is a 409.
    const retried = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: keyA });
    expect([202, 409]).toContain(retried.status);
    expect((await rt.waitFor(tenantId, WAITING)).status).toBe("succeeded");
    const before = await changes(keyA, tenantId);
    const late = await browser.submit(page);
    expect(late.status).toBe(200);
    expect(late.html).toContain(NOTHING_TO_SET_UP);
    expect((await sim.tenant(tenantId)).roleGroups.filter((g) => g.name === ROLE_GROUP_NAME)).toEqual([]);
    expect(await changes(keyA, tenantId)).toEqual(before);
  });

  it("another partner's link for the tenant (it moved to A meanwhile) does nothing and reveals nothing", async () => {
    const sim = rt.sim;
    // B held the tenant, waiting for permissions, and sent its link.
    const held = await waitingForScript(keyB);
    const { tenantId } = held;
    const linkB: string = held.consentUrl;
    const browser = new TestBrowser();
    const pageB = await browser.open(linkB);
    expect(pageB.html).toContain("Set up least privilege for Partner B");
    // The customer moves the tenant to A.
    // (A's claim, and its admin's consent through A's link choosing the script again.)
    await waitingForScript(keyA, tenantId);
    const recordB = await get(keyB, tenantId);
    expect(recordB.status).toBe("offboarded");
    expect(recordB.consentUrl).toBeUndefined();
    const trail = await changes(keyA, tenantId);

    // B's page continued, and B's link opened afresh: the same page, nothing set up.
    const continued = await browser.submit(pageB);
    expect(continued.status).toBe(200);
    expect(continued.html).toContain(NOTHING_TO_SET_UP);
    const fresh = await consentAsAdmin(linkB);
    expect(fresh.status).toBe(200);
    expect(fresh.html).toBe(continued.html);
    expect(fresh.html).not.toContain("Partner A");
    expect((await sim.tenant(tenantId)).roleGroups).toEqual([]);
    expect(await changes(keyA, tenantId)).toEqual(trail);
    expect((await get(keyA, tenantId)).status).toBe("awaiting_permissions");
    expect((await get(keyB, tenantId)).status).toBe("offboarded");

    // A's own link still works.
    const linkA: string = (await get(keyA, tenantId)).consentUrl;
    expect((await consentAsAdmin(linkA)).html).toContain("Least privilege set up");
    expect((await rt.waitFor(tenantId, WAITING)).status).toBe("succeeded");
  });
});
