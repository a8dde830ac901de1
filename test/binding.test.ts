/**
 * A partner proves its link to a customer tenant by the customer's consent, over HTTP against
 * the real local runtime: the customer's admin opens the partner's consentUrl at the
 * simulator's Entra, which sends the browser back to the service's consent callback.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { TestBrowser } from "./support/browser.ts";
import { type FormHandle, form, type Json, slower, startForm } from "./support/form.ts";

let rt: FormHandle;

beforeAll(async () => {
  rt = await startForm();
});
afterAll(async () => {
  await rt?.close();
});

const sim = () => rt.sim;
const exchangeCalls = async (tenantId: string) =>
  (await sim().calls(tenantId)).filter((c) => c.service !== "identity");

async function post(key: string, tenantId: string, customerName: string) {
  return rt.call("POST", "/v1/tenants", {
    key,
    body: { tenantId, customerName, region: "us", ndrAddress: demoMailboxes(tenantId).admin },
  });
}

async function get(key: string, tenantId: string): Promise<Json> {
  const { status, body } = await rt.call("GET", `/v1/tenants/${tenantId}`, { key });
  expect(status).toBe(200);
  return body;
}

async function waitForStatus(key: string, tenantId: string, statuses: string[]): Promise<Json> {
  for (let i = 0; i < 400 * slower; i++) {
    const body = await get(key, tenantId);
    if (statuses.includes(body.status)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`tenant ${tenantId} never reached ${statuses.join("/")}`);
}

const journalRuleAddresses = async (tenantId: string) =>
  (await sim().tenant(tenantId)).journalRules.map((r) => r.journalEmailAddress);

describe("binding by consent", () => {
  it("a new tenant waits for consent through the partner's link; no Exchange call before", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    const { status, body } = await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    expect(status).toBe(202);
    expect(body.status).toBe("awaiting_consent");
    const url = new URL(body.consentUrl);
    expect(url.pathname).toBe(`/${tenantId}/adminconsent`);
    expect(url.searchParams.get("redirect_uri")).toBe(`${rt.url}/v1/consent/callback`);
    expect(url.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(await exchangeCalls(tenantId)).toEqual([]);
    // A second POST of the same partner while it waits: 409.
    expect((await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`)).status).toBe(409);

    const page = await rt.consent(body.consentUrl);
    expect(page.status, page.html).toBe(200);
    expect(page.url.startsWith(`${rt.url}/v1/consent/callback?`)).toBe(true);
    expect(page.html).toContain("Consent received");
    const done = await waitForStatus(a.apiKey, tenantId, ["succeeded", "failed"]);
    expect(done.status).toBe("succeeded");
  });

  it("(a) takeover after offboarding fails until the customer consents through B's link", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = await rt.onboard(a.apiKey);
    expect((await rt.waitFor(tenantId, ["succeeded"])).status).toBe("succeeded");
    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.apiKey })).status).toBe(202);
    await waitForStatus(a.apiKey, tenantId, ["offboarded"]);
    // The customer keeps a journal rule of its own that nobody may touch.
    const before = JSON.stringify((await sim().tenant(tenantId)).journalRules);
    await sim().resetCalls();

    const claim = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    expect(claim.status).toBe(202);
    expect(claim.body.status).toBe("awaiting_consent");
    expect(claim.body.partnerId).toBe(b.partnerId);
    // B's retry and a while later: still nothing in the tenant.
    expect((await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: b.apiKey })).status).toBe(202);
    // Nothing may happen: wait until the engine has nothing left to run, then look.
    await rt.idle(tenantId);
    expect(await exchangeCalls(tenantId)).toEqual([]);
    expect(JSON.stringify((await sim().tenant(tenantId)).journalRules)).toBe(before);
    expect((await get(b.apiKey, tenantId)).status).toBe("awaiting_consent");
    // A still sees its own record, offboarded.
    expect((await get(a.apiKey, tenantId)).status).toBe("offboarded");

    // The customer's admin consents through B's link: now B onboards.
    const page = await rt.consent((await get(b.apiKey, tenantId)).consentUrl);
    expect(page.status, page.html).toBe(200);
    const bound = await waitForStatus(b.apiKey, tenantId, ["succeeded", "failed"]);
    expect(bound.status).toBe("succeeded");
    expect(await journalRuleAddresses(tenantId)).toContain(
      `b-${tenantId.slice(0, 8)}@journaling.mxrecord.io`,
    );
    const previous = await get(a.apiKey, tenantId);
    expect(previous.status).toBe("offboarded");
    expect(previous.partnerId).toBe(a.partnerId);
  });

  it("a move from an active owner offboards its record without touching the tenant", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = await rt.onboard(a.apiKey);
    await rt.waitFor(tenantId, ["succeeded"]);
    const claim = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    expect(claim.body.status).toBe("awaiting_consent");
    // A is not blocked from reading and keeps its tenant until the customer decides.
    expect((await get(a.apiKey, tenantId)).status).toBe("succeeded");
    await sim().resetCalls();
    await rt.consent(claim.body.consentUrl);
    const previous = await get(a.apiKey, tenantId);
    expect(previous.status).toBe("offboarded");
    // Offboarding A's record made no call in the tenant (B's onboarding makes its own).
    const byA = (await sim().calls(tenantId)).filter((c) => c.operation.startsWith("Remove-"));
    expect(byA).toEqual([]);
    expect((await waitForStatus(b.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
  });

  it("after a change of owner, the previous owner's failing deliveries do not hold back the new owner's", async () => {
    const received: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        // A's receiver is down (500, retried with backoff); B's takes everything.
        if (req.url === "/a") return void res.writeHead(500).end();
        received.push(Buffer.concat(chunks).toString("utf8"));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const a = await rt.createPartner("a");
      const b = await rt.createPartner("b");
      expect(
        (await rt.call("PUT", "/v1/webhook", { key: a.apiKey, body: { url: `${base}/a` } })).status,
      ).toBe(200);
      expect(
        (await rt.call("PUT", "/v1/webhook", { key: b.apiKey, body: { url: `${base}/b` } })).status,
      ).toBe(200);
      const tenantId = await rt.onboard(a.apiKey);
      await rt.waitFor(tenantId, ["succeeded"]);
      const claim = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
      await rt.consent(claim.body.consentUrl);
      expect((await waitForStatus(b.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
      // A's deliveries wait for their retries (seconds, then minutes); B's arrive now, in order.
      const ofB = () => received.map((r) => JSON.parse(r)).filter((e) => e.data.tenantId === tenantId);
      for (let i = 0; i < 100 * slower && !ofB().some((e) => e.type === "tenant.onboarding.succeeded"); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const types = ofB().map((e) => e.type);
      expect(types[0]).toBe("tenant.onboarding.started");
      expect(types.at(-1)).toBe("tenant.onboarding.succeeded");
      const sequences = ofB().map((e) => e.data.sequence);
      expect(sequences).toEqual([...sequences].sort((x, y) => x - y));
    } finally {
      server.close();
    }
  });

  it("(b) squatting: B's unconsented claim does not block A; the admin's consent through A's link binds A", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = randomUUID();
    await sim().setConsented(tenantId, false);
    const squat = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    expect(squat.body.status).toBe("awaiting_consent");
    const mine = await post(a.apiKey, tenantId, `a-${tenantId.slice(0, 8)}`);
    expect(mine.status).toBe(202);
    expect(mine.body.status).toBe("awaiting_consent");
    expect(await exchangeCalls(tenantId)).toEqual([]);

    expect((await rt.consent(mine.body.consentUrl)).status).toBe(200);
    expect((await waitForStatus(a.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    const lost = await get(b.apiKey, tenantId);
    expect(lost.status).toBe("failed");
    expect(lost.error.code).toBe("TENANT_BOUND_ELSEWHERE");
    expect(lost.consentUrl).toBeUndefined();
    // B's retry does nothing in the tenant: a new claim waits for a consent that B cannot give.
    await sim().resetCalls();
    const retried = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: b.apiKey });
    expect(retried.body.status).toBe("awaiting_consent");
    // Nothing may happen: wait until the engine has nothing left to run, then look.
    await rt.idle(tenantId);
    expect(await exchangeCalls(tenantId)).toEqual([]);
    expect(await journalRuleAddresses(tenantId)).toEqual([
      `a-${tenantId.slice(0, 8)}@journaling.mxrecord.io`,
    ]);
    // B's own history, sequences from 1; nothing of A's.
    const events = (await rt.call("GET", `/v1/tenants/${tenantId}/events`, { key: b.apiKey })).body.items;
    expect(events.map((e: Json) => e.data.sequence)).toEqual([1, 2, 3]);
    expect(events.map((e: Json) => e.type)).toEqual([
      "tenant.onboarding.awaiting_consent",
      "tenant.onboarding.failed",
      "tenant.onboarding.awaiting_consent",
    ]);
  });

  it("(c) a bad, tampered or expired state, another tenant, or error= binds nothing", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    const { body } = await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    const state = new URL(body.consentUrl).searchParams.get("state")!;
    const callback = async (query: Record<string, string>) => {
      const response = await fetch(`${rt.url}/v1/consent/callback?${new URLSearchParams(query)}`);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
      return { status: response.status, html: await response.text() };
    };
    const [payload, mac] = state.split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), p: "p_other" }),
    ).toString("base64url");
    const queries: Record<string, string>[] = [
      { admin_consent: "True", tenant: tenantId, state: "nonsense" },
      { admin_consent: "True", tenant: tenantId, state: `${forged}.${mac}` },
      { admin_consent: "True", tenant: tenantId },
      { admin_consent: "True", tenant: randomUUID(), state },
      { admin_consent: "False", tenant: tenantId, state },
    ];
    for (const query of queries) {
      const page = await callback(query);
      expect(page.status).toBe(400);
    }
    const declined = await callback({
      error: "access_denied",
      error_description: "<script>alert(1)</script>",
      state,
    });
    expect(declined.status).toBe(400);
    expect(declined.html).toContain("access_denied");
    // Entra's description is never shown; only its short error code.
    expect(declined.html).not.toContain("script");
    expect((await get(a.apiKey, tenantId)).status).toBe("awaiting_consent");
    expect(await exchangeCalls(tenantId)).toEqual([]);
  });

  // Forges a state with the signing secret read from the local form's DATA_DIR.
  it.skipIf(form === "aws")("(c) an expired state binds nothing", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    const { body } = await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    const { ConsentStateSigner } = await import("../functions/domain/binding.ts");
    const { readFile } = await import("node:fs/promises");
    const secret = (await readFile(`${rt.local!.runtime.dataDir}/consent-state-secret`, "utf8")).trim();
    const old = new ConsentStateSigner(secret).sign(
      { partnerId: a.partnerId, tenantId },
      new Date(Date.now() - 8 * 24 * 3600 * 1000),
    );
    const url = new URL(body.consentUrl);
    url.searchParams.set("state", old);
    const page = await rt.consent(url.toString());
    expect(page.status).toBe(400);
    expect(page.html).toContain("not valid");
    expect((await get(a.apiKey, tenantId)).status).toBe("awaiting_consent");
  });

  it("(e) ops bind a tenant by hand, recorded in its history", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    const byPartner = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, {
      key: a.apiKey,
      body: { bindTenant: true, partnerId: a.partnerId },
    });
    expect(byPartner.status).toBe(403);
    const bound = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, {
      body: { bindTenant: true, partnerId: a.partnerId },
    });
    expect(bound.status).toBe(202);
    expect((await waitForStatus(a.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    const events = (await rt.call("GET", `/v1/tenants/${tenantId}/events`, { key: a.apiKey })).body.items;
    expect(events.map((e: Json) => e.type)).toContain("tenant.bound_by_ops");
    // Without an open claim of that partner there is nothing to bind.
    const none = await rt.call("POST", `/v1/tenants/${randomUUID()}/retry`, {
      body: { bindTenant: true, partnerId: a.partnerId },
    });
    expect(none.status).toBe(409);
  });

  it("another partner's tenant and one that does not exist are the same 404", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = await rt.onboard(a.apiKey);
    for (const id of [tenantId, randomUUID()]) {
      expect((await rt.call("GET", `/v1/tenants/${id}`, { key: b.apiKey })).status).toBe(404);
      expect((await rt.call("GET", `/v1/tenants/${id}/events`, { key: b.apiKey })).status).toBe(404);
      expect((await rt.call("POST", `/v1/tenants/${id}/retry`, { key: b.apiKey })).status).toBe(404);
      expect((await rt.call("DELETE", `/v1/tenants/${id}`, { key: b.apiKey })).status).toBe(404);
    }
  });
});

const GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10";
const APPLICATION_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";

describe("the customer's admin signs in to confirm the consent", () => {
  const callbackUrl = () => `${rt.url}/v1/consent/callback`;
  const stateOf = (url: string) => new URL(url).searchParams.get("state")!;

  it("the browser goes consent → callback's page → Continue → sign-in of the tenant → callback; only then the tenant is bound", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    const { body } = await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    const browser = new TestBrowser();
    const page = await browser.open(body.consentUrl);
    expect(page.status, page.html).toBe(200);
    expect(page.urls).toHaveLength(2);
    expect(new URL(page.url).searchParams.get("admin_consent")).toBe("True");
    await sim().resetCalls();
    await new Promise((r) => setTimeout(r, 100));
    expect((await get(a.apiKey, tenantId)).status).toBe("awaiting_consent");
    const { urls, status, html } = await browser.submit(page);
    expect(status).toBe(200);
    expect(html).toContain("Consent received");
    expect(urls).toHaveLength(3);
    const [, signIn, withCode] = urls.map((u) => new URL(u));
    expect(signIn!.origin + signIn!.pathname).toBe(`${rt.simulator.url}/${tenantId}/oauth2/v2.0/authorize`);
    expect(Object.fromEntries(signIn!.searchParams)).toMatchObject({
      client_id: rt.simulator.clientId,
      response_type: "code",
      response_mode: "query",
      // The default choice: least privilege set up with the same sign-in (delegated Exchange.Manage).
      scope: `openid profile ${rt.simulator.endpoints.exchange}/Exchange.Manage`,
      redirect_uri: callbackUrl(),
      prompt: "select_account",
    });
    expect(signIn!.searchParams.get("nonce")).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    // PKCE: the code is redeemed with the verifier of this challenge.
    expect(signIn!.searchParams.get("code_challenge_method")).toBe("S256");
    expect(signIn!.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A new state for the sign-in, not the consent link's.
    expect(signIn!.searchParams.get("state")).not.toBe(stateOf(body.consentUrl));
    expect(withCode!.origin + withCode!.pathname).toBe(callbackUrl());
    expect(withCode!.searchParams.get("code")).toBeTruthy();
    expect((await waitForStatus(a.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
  });

  it("a forged callback (B replays its own state with admin_consent=True while A's consent exists) binds nothing", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = await rt.onboard(a.apiKey);
    await rt.waitFor(tenantId, ["succeeded"]);
    const claim = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    expect(claim.body.status).toBe("awaiting_consent");
    await sim().resetCalls();
    // B reads its own consentUrl, takes the state out and calls the callback itself.
    const forged = `${callbackUrl()}?${new URLSearchParams({
      admin_consent: "True",
      tenant: tenantId,
      state: stateOf((await get(b.apiKey, tenantId)).consentUrl),
    })}`;
    // It gets the page naming B, not a sign-in: nothing happens until someone continues.
    const response = await fetch(forged, { redirect: "manual" });
    expect(response.status).toBe(200);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("Continue");
    // And a made-up code with the consent link's state is no sign-in either.
    const madeUp = await fetch(
      `${callbackUrl()}?${new URLSearchParams({ code: "sim.made-up", state: stateOf(claim.body.consentUrl) })}`,
    );
    expect(madeUp.status).toBe(400);
    // Nothing may happen: wait until the engine has nothing left to run, then look.
    await rt.idle(tenantId);
    expect((await get(b.apiKey, tenantId)).status).toBe("awaiting_consent");
    expect((await get(a.apiKey, tenantId)).status).toBe("succeeded");
    expect(await exchangeCalls(tenantId)).toEqual([]);
    expect((await sim().calls(tenantId)).filter((c) => c.operation === "token")).toEqual([]);
  });

  it("a sign-in by a user of the tenant without a consent-granting role binds nothing", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = await rt.onboard(a.apiKey);
    await rt.waitFor(tenantId, ["succeeded"]);
    const claim = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    await sim().resetCalls();
    try {
      for (const roles of [[], [APPLICATION_ADMIN]]) {
        await sim().setSignInUser(tenantId, { roles });
        const page = await rt.consent(claim.body.consentUrl);
        expect(page.status).toBe(403);
        expect(page.html).toContain("does not hold a directory role");
        expect(page.html).toContain("Global Administrator");
      }
      // An app whose tokens do not carry directory roles: nothing is bound either, and the page says why.
      await sim().setSignInUser(tenantId, { roles: [GLOBAL_ADMIN], wids: false });
      const noRoles = await rt.consent(claim.body.consentUrl);
      expect(noRoles.status).toBe(403);
      expect(noRoles.html).toContain("directory roles");
    } finally {
      await sim().setSignInUser(tenantId, null);
    }
    expect((await get(b.apiKey, tenantId)).status).toBe("awaiting_consent");
    expect((await get(a.apiKey, tenantId)).status).toBe("succeeded");
    expect(await exchangeCalls(tenantId)).toEqual([]);
  });

  it("a sign-in that ends in another tenant binds nothing", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    const { body } = await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    try {
      await sim().setSignInUser(tenantId, { tenantId: randomUUID() });
      const page = await rt.consent(body.consentUrl);
      expect(page.status).toBe(403);
      expect(page.html).toContain("another tenant");
    } finally {
      await sim().setSignInUser(tenantId, null);
    }
    expect((await get(a.apiKey, tenantId)).status).toBe("awaiting_consent");
    expect(await exchangeCalls(tenantId)).toEqual([]);
  });

  it("a code is used once, and only with the sign-in state it was issued for", async () => {
    const a = await rt.createPartner("a");
    const b = await rt.createPartner("b");
    const tenantId = randomUUID();
    const mine = await post(a.apiKey, tenantId, `a-${tenantId.slice(0, 8)}`);
    const theirs = await post(b.apiKey, tenantId, `b-${tenantId.slice(0, 8)}`);
    // The admin's browser up to the callback with the code, not yet opened.
    const browser = new TestBrowser();
    const stopBeforeCode = async (consentUrl: string): Promise<string> => {
      const page = await browser.open(consentUrl);
      return (await browser.submit(page, { stopAt: (url) => url.searchParams.has("code") })).url;
    };
    // B's sign-in state (from B's consent link) with a code issued to A's sign-in: no.
    const aCode = new URL(await stopBeforeCode(mine.body.consentUrl)).searchParams.get("code")!;
    const bSignIn = new URL(await stopBeforeCode(theirs.body.consentUrl)).searchParams.get("state")!;
    const injected = await browser.open(
      `${callbackUrl()}?${new URLSearchParams({ code: aCode, state: bSignIn })}`,
    );
    expect(injected.status).toBe(403);
    expect((await get(b.apiKey, tenantId)).status).toBe("awaiting_consent");

    // A's own code URL binds A once; opened again it is refused (the code was redeemed).
    const fresh = await stopBeforeCode(mine.body.consentUrl);
    const first = await browser.open(fresh);
    expect(first.status).toBe(200);
    const replayed = await browser.open(fresh);
    expect(replayed.status).toBe(403);
    expect(replayed.html).toContain("used already");
    expect((await waitForStatus(a.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    expect((await get(b.apiKey, tenantId)).error?.code).toBe("TENANT_BOUND_ELSEWHERE");
  });

  // Forges a state with the signing secret read from the local form's DATA_DIR.
  it.skipIf(form === "aws")("a sign-in state older than 10 minutes binds nothing", async () => {
    const a = await rt.createPartner("a");
    const tenantId = randomUUID();
    await post(a.apiKey, tenantId, `c-${tenantId.slice(0, 8)}`);
    const { ConsentStateSigner } = await import("../functions/domain/binding.ts");
    const { readFile } = await import("node:fs/promises");
    const secret = (await readFile(`${rt.local!.runtime.dataDir}/consent-state-secret`, "utf8")).trim();
    const old = new ConsentStateSigner(secret).signSignIn(
      { partnerId: a.partnerId, tenantId },
      new Date(Date.now() - 11 * 60_000),
    );
    const page = await fetch(`${callbackUrl()}?${new URLSearchParams({ code: "sim.x", state: old.state })}`);
    expect(page.status).toBe(400);
    expect((await get(a.apiKey, tenantId)).status).toBe("awaiting_consent");
  });
});
