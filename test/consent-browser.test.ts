/**
 * The consent's first page names the partner and the tenant, and the sign-in that follows is
 * bound to the browser that continued from it: over HTTP against either form
 * (test/support/form.ts) and the simulator's Entra. A link forwarded by someone else (the page's Continue, the sign-in,
 * the sign-in's answer) completes nothing in another browser.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminSignIn } from "../functions/adapters/m365/admin-sign-in.ts";
import { browserCookie, browserIdFromCookie } from "../functions/api/consent-confirm.ts";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { TestBrowser } from "./support/browser.ts";
import { type FormHandle, type Json, slower, startForm } from "./support/form.ts";

let rt: FormHandle;

beforeAll(async () => {
  rt = await startForm();
});
afterAll(async () => {
  await rt?.close();
});

const sim = () => rt.sim;
const isSignIn = (url: URL) => url.pathname.endsWith("/oauth2/v2.0/authorize");
const hasCode = (url: URL) => url.searchParams.has("code");

/** A partner's unbound claim on a new tenant: its consentUrl. */
async function claim(partnerName: string): Promise<{ key: string; tenantId: string; consentUrl: string }> {
  const partner = await rt.createPartner(partnerName);
  const tenantId = randomUUID();
  const { status, body } = await rt.call("POST", "/v1/tenants", {
    key: partner.apiKey,
    body: {
      tenantId,
      customerName: `c-${tenantId.slice(0, 8)}`,
      region: "us",
      ndrAddress: demoMailboxes(tenantId).admin,
    },
  });
  expect(status).toBe(202);
  return { key: partner.apiKey, tenantId, consentUrl: body.consentUrl };
}

async function statusOf(key: string, tenantId: string): Promise<Json> {
  return (await rt.call("GET", `/v1/tenants/${tenantId}`, { key })).body.status;
}

async function expectUnbound(key: string, tenantId: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 150 * slower));
  expect(await statusOf(key, tenantId)).toBe("awaiting_consent");
  expect((await sim().calls(tenantId)).filter((c) => c.service !== "identity")).toEqual([]);
}

describe("the consent page", () => {
  it("names the partner and the tenant, sets the browser's cookie, and redirects nowhere", async () => {
    const { key, tenantId, consentUrl } = await claim(`Contoso <IT> & "Sons"`);
    const page = await new TestBrowser().open(consentUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("location")).toBeNull();
    expect(page.html).toContain("Contoso &lt;IT&gt; &amp; &quot;Sons&quot;");
    expect(page.html).not.toContain("<IT>");
    expect(page.html).toContain(tenantId);
    expect(page.html).toMatch(/<html lang="en">/);
    expect(page.html).toMatch(/<button type="submit">Continue<\/button>/);
    expect(page.html).not.toMatch(/<script|http-equiv="refresh"/i);
    const policy = page.headers.get("content-security-policy")!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain(`form-action 'self' ${rt.url} ${rt.simulator.url}`);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const cookie = page.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^consent_browser=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain("; Path=/v1/consent/callback");
    expect(cookie).toContain("; HttpOnly");
    expect(cookie).toContain("; SameSite=Lax");
    // Plain http on loopback: no Secure (the browser would drop the cookie).
    expect(cookie).not.toContain("Secure");
    await expectUnbound(key, tenantId);
  });

  it("offers the least-privilege choice: two labelled radio buttons in the form, the setup checked", async () => {
    const { key, tenantId, consentUrl } = await claim("A");
    const page = await new TestBrowser().open(consentUrl);
    const form = /<form[\s\S]*<\/form>/.exec(page.html)![0];
    expect(form).toMatch(/<fieldset>\s*<legend>[^<]+<\/legend>/);
    const radios = [
      ...form.matchAll(
        /<input type="radio" id="([^"]+)" name="least_privilege" value="(\w+)" aria-describedby="([^"]+)"( checked)?>/g,
      ),
    ];
    expect(radios.map((r) => [r[2], r[4] === " checked"])).toEqual([
      ["setup", true],
      ["script", false],
    ]);
    for (const [, id, , help] of radios) {
      expect(form).toMatch(new RegExp(`<label for="${id}">[^<]+</label>`));
      expect(form).toMatch(new RegExp(`<p id="${help}">[^<]+\\.</p>`));
    }
    expect(form).toContain(">Set up least privilege for me (recommended)</label>");
    expect(form).toContain(">I will run the permissions script</label>");
    // The sign-in asks for Exchange with the default, not after "I will run the permissions script".
    for (const [choice, exchange] of [
      ["setup", true],
      ["script", false],
    ] as const) {
      const browser = new TestBrowser();
      const signIn = await browser.submit(await browser.open(consentUrl), {
        choose: { least_privilege: choice },
        stopAt: isSignIn,
      });
      const scope = new URL(signIn.url).searchParams.get("scope")!.split(" ");
      expect(scope.some((s) => s.endsWith("/Exchange.Manage"))).toBe(exchange);
    }
    await expectUnbound(key, tenantId);
  });

  it("a forwarded Continue link shows the page again in another browser (no sign-in)", async () => {
    const { key, tenantId, consentUrl } = await claim("B");
    const partner = new TestBrowser();
    const continueUrl = TestBrowser.formUrl(await partner.open(consentUrl))!;
    // The admin opens it without the cookie, and with a cookie of its own.
    const admin = new TestBrowser();
    for (let i = 0; i < 2; i++) {
      const page = await admin.open(continueUrl);
      expect(page.status).toBe(200);
      expect(page.urls).toHaveLength(1);
      expect(page.html).toContain("<dd>B</dd>");
      expect((await sim().calls(tenantId)).filter((c) => c.operation === "authorize")).toEqual([]);
    }
    await expectUnbound(key, tenantId);
    // Continued from the page itself, the same browser goes on to the sign-in.
    const signIn = await admin.submit(await admin.open(continueUrl), { stopAt: isSignIn });
    expect(isSignIn(new URL(signIn.url))).toBe(true);
  });
});

describe("the sign-in is bound to the browser that continued", () => {
  it("a forwarded sign-in link completes nothing in another browser (no cookie, another browser's)", async () => {
    const { key, tenantId, consentUrl } = await claim("B");
    const partner = new TestBrowser();
    const signIn = await partner.submit(await partner.open(consentUrl), { stopAt: isSignIn });
    // The admin, with no cookie, then with one of its own (it opened another consent page).
    const admin = new TestBrowser();
    const fresh = await admin.open(signIn.url);
    expect(fresh.status).toBe(403);
    expect(fresh.html).toContain("not started in this browser");
    await admin.open((await claim("C")).consentUrl);
    expect(admin.cookies).toHaveLength(1);
    const other = await admin.open(signIn.url);
    expect(other.status).toBe(403);
    await expectUnbound(key, tenantId);
    // The partner's own browser could still finish it: the failed attempts did not use it up.
    const own = await partner.open(signIn.url);
    expect(own.status).toBe(200);
    expect(own.html).toContain("Consent received");
  });

  it("a sign-in state is used once, even with a new code", async () => {
    const { key, tenantId, consentUrl } = await claim("A");
    const admin = new TestBrowser();
    const signIn = await admin.submit(await admin.open(consentUrl), { stopAt: isSignIn });
    // Two sign-ins with the same state: two codes.
    const first = (await admin.open(signIn.url, { stopAt: hasCode })).url;
    const second = (await admin.open(signIn.url, { stopAt: hasCode })).url;
    expect(new URL(first).searchParams.get("code")).not.toBe(new URL(second).searchParams.get("code"));
    expect((await admin.open(first)).status).toBe(200);
    const again = await admin.open(second);
    expect(again.status).toBe(403);
    // Refused before its code is redeemed: the state is used up.
    expect(again.html).toContain("This sign-in was not started in this browser");
    await rt.waitFor(tenantId, ["succeeded"]);
    expect(await statusOf(key, tenantId)).toBe("succeeded");
  });

  it("the sign-in state of another tenant binds neither", async () => {
    const one = await claim("A");
    const two = await claim("A2");
    const admin = new TestBrowser();
    const signInOne = await admin.submit(await admin.open(one.consentUrl), { stopAt: isSignIn });
    const signInTwo = await admin.submit(await admin.open(two.consentUrl), { stopAt: isSignIn });
    // Tenant one's sign-in answer with tenant two's state.
    const answer = new URL((await admin.open(signInOne.url, { stopAt: hasCode })).url);
    answer.searchParams.set("state", new URL(signInTwo.url).searchParams.get("state")!);
    const page = await admin.open(answer.toString());
    expect(page.status).toBe(403);
    await expectUnbound(one.key, one.tenantId);
    await expectUnbound(two.key, two.tenantId);
  });
});

describe("PKCE at the simulator's token endpoint", () => {
  it("a code whose authorize request had a challenge is redeemed only with its verifier", async () => {
    const tenantId = randomUUID();
    const redirectUri = `${rt.url}/v1/consent/callback`;
    const signIn = createAdminSignIn({
      clientId: rt.simulator.clientId,
      authorityHost: rt.simulator.endpoints.authorityHost,
      credential: { clientSecret: rt.simulator.clientSecret },
    });
    const { codeChallenge } = await import("../functions/domain/consent-browser.ts");
    const verifier = "v".repeat(43);
    const codeOf = async () => {
      const url = signIn.authorizeUrl({
        tenantId,
        redirectUri,
        state: "s",
        nonce: "n",
        codeChallenge: codeChallenge(verifier),
      });
      const response = await fetch(url, { redirect: "manual" });
      return new URL(response.headers.get("location")!).searchParams.get("code")!;
    };
    const redeem = async (codeVerifier?: string) =>
      signIn.redeem({
        tenantId,
        code: await codeOf(),
        redirectUri,
        nonce: "n",
        ...(codeVerifier && { codeVerifier }),
      });
    expect(await redeem()).toMatchObject({ ok: false, error: "invalid_grant" });
    expect(await redeem("w".repeat(43))).toMatchObject({ ok: false, error: "invalid_grant" });
    expect(await redeem(verifier)).toMatchObject({ ok: true });
  });
});

describe("the browser's cookie", () => {
  it("is Secure over https and limited to the callback's path, stage prefix included", () => {
    const id = "a".repeat(43);
    expect(
      browserCookie(id, "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/consent/callback"),
    ).toBe(
      `consent_browser=${id}; Path=/prod/v1/consent/callback; Max-Age=3600; HttpOnly; SameSite=Lax; Secure`,
    );
    expect(browserCookie(id, "http://127.0.0.1:3000/v1/consent/callback")).not.toContain("Secure");
  });

  it("is read from a Cookie header among others; nothing else is taken for it", () => {
    expect(browserIdFromCookie("a=1; consent_browser=xyz; b=2")).toBe("xyz");
    expect(browserIdFromCookie("consent_browser_x=1; other=consent_browser")).toBeUndefined();
    expect(browserIdFromCookie(undefined)).toBeUndefined();
  });
});
