/**
 * The Microsoft 365 simulator itself, over raw HTTPS: Exchange's validation rules, its wire
 * formats, identity, the control API (in-process and over /_sim), persistence and the CLI.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectSimulator,
  EXCHANGE_ANCHOR_MAILBOX,
  type Simulator,
  startSimulator,
} from "../infra/local/m365-simulator/index.ts";

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});
afterEach(() => {
  sim.configure({
    pageSize: 2,
    validation: { lag: 0, fail: false },
    faults: { throttleRate: 0, serverErrorRate: 0, dropRate: 0 },
  });
});

async function token(tenantId: string, resource: string, secret = sim.clientSecret): Promise<Response> {
  return fetch(`${sim.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: sim.clientId,
      client_secret: secret,
      scope: `${resource}/.default`,
    }),
  });
}

async function accessToken(tenantId: string, resource = sim.endpoints.exchange): Promise<string> {
  const res = await token(tenantId, resource);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

interface ExoAnswer {
  status: number;
  body: {
    value?: Record<string, unknown>[];
    "@odata.nextLink"?: string;
    error?: {
      code: string;
      details: { message: string }[];
      innererror: { internalexception: { message: string; type: string } };
    };
  };
}

async function exo(
  tenantId: string,
  cmdlet: string,
  parameters: Record<string, unknown> = {},
  options: { url?: string; anchor?: string; bearer?: string } = {},
): Promise<ExoAnswer> {
  const res = await fetch(
    options.url ?? `${sim.endpoints.exchange}/adminapi/beta/${tenantId}/InvokeCommand`,
    {
      method: "POST",
      headers: {
        authorization: `Bearer ${options.bearer ?? (await accessToken(tenantId))}`,
        "x-anchormailbox": options.anchor ?? `APP:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } }),
    },
  );
  return { status: res.status, body: (await res.json()) as ExoAnswer["body"] };
}

/** The human text of an Exchange error (`ErrorId|ExceptionType|Text`). */
const errorText = (a: ExoAnswer) => a.body.error?.details[0]?.message.split("|")[2];
const errorType = (a: ExoAnswer) => a.body.error?.innererror.internalexception.type;

const connector = {
  Name: "Deliver journal directly to Area 1",
  Comment: "Deliver journal directly to Area 1",
  ConnectorType: "Partner",
  RecipientDomains: ["journaling.mxrecord.io"],
  SmartHosts: ["mailstream-east.mxrecord.io", "mailstream-west.mxrecord.io"],
  UseMXRecord: false,
  TlsSettings: "CertificateValidation",
  Enabled: true,
};

describe("Exchange cmdlets", () => {
  it("answers Exchange's OData error shape, with the text in details and internalexception", async () => {
    const tenantId = randomUUID();
    const a = await exo(tenantId, "Get-OutboundConnector", { Identity: "missing" });
    expect(a.status).toBe(404);
    expect(a.body.error?.details[0]?.message).toMatch(
      /^Ex[0-9A-F]+\|Microsoft\.Exchange\.Configuration\.Tasks\.ManagementObjectNotFoundException\|The operation couldn't be performed because object 'missing' couldn't be found/,
    );
    expect(a.body.error?.innererror.internalexception.message).toBe(errorText(a));
  });

  it("validates connector names (64 characters, unique) and the MX/smart host rule", async () => {
    const tenantId = randomUUID();
    expect(
      (await exo(tenantId, "New-OutboundConnector", { ...connector, Name: "n".repeat(64) })).status,
    ).toBe(200);
    const long = await exo(tenantId, "New-OutboundConnector", { ...connector, Name: "n".repeat(65) });
    expect([long.status, errorText(long)]).toEqual([400, expect.stringMatching(/maximum length is 64/)]);
    expect((await exo(tenantId, "New-OutboundConnector", connector)).status).toBe(200);
    const dup = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      Name: connector.Name.toUpperCase(),
    });
    expect([dup.status, errorType(dup)]).toEqual([400, expect.stringMatching(/AlreadyExists/)]);
    const noHosts = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      Name: "b",
      SmartHosts: null,
    });
    expect(errorText(noHosts)).toMatch(/SmartHosts must be specified when UseMXRecord is set to false/);
    const both = await exo(tenantId, "New-OutboundConnector", { ...connector, Name: "c", UseMXRecord: true });
    expect(errorText(both)).toMatch(/SmartHosts can't be specified when UseMXRecord is set to true/);
    const mx = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      Name: "d",
      UseMXRecord: true,
      SmartHosts: null,
    });
    expect(mx.status).toBe(200);
    const tls = await exo(tenantId, "Set-OutboundConnector", { Identity: "d", TlsSettings: "Strict" });
    expect([tls.status, errorText(tls)]).toEqual([
      400,
      expect.stringMatching(/EncryptionOnly, CertificateValidation, DomainValidation/),
    ]);
    expect(sim.tenant(tenantId).connectors.map((c) => c.name)).toEqual(["n".repeat(64), connector.Name, "d"]);
  });

  it("returns connectors as Exchange does: PascalCase, null for empty lists, one value accepted for a list", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", { ...connector, SmartHosts: "mailstream-eu1.mxrecord.io" });
    const [row] =
      (await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name })).body.value ?? [];
    expect(row).toMatchObject({
      Identity: connector.Name,
      SmartHosts: ["mailstream-eu1.mxrecord.io"],
      RecipientDomains: ["journaling.mxrecord.io"],
      UseMXRecord: false,
      TlsSettings: "CertificateValidation",
      ValidationRecipients: null,
    });
  });

  it("refuses journal rules before JournalingReportNdrTo, and creates them disabled unless told", async () => {
    const tenantId = randomUUID();
    const demo = sim.demo(tenantId);
    const rule = {
      Name: "Journal Messages to CloudflareArea 1",
      JournalEmailAddress: "acme@journaling.mxrecord.io",
      Scope: "External",
    };
    const early = await exo(tenantId, "New-JournalRule", rule);
    expect([early.status, errorText(early)]).toEqual([
      400,
      expect.stringMatching(/^Before you create a journal rule, you must specify an email account/),
    ]);
    expect((await exo(tenantId, "Get-TransportConfig")).body.value?.[0]?.JournalingReportNdrTo).toBe("<>");
    expect((await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: demo.admin })).status).toBe(
      200,
    );
    const created = await exo(tenantId, "New-JournalRule", rule);
    expect(created.body.value?.[0]).toMatchObject({
      Name: rule.Name,
      Enabled: false,
      Scope: "External",
      Recipient: null,
    });
    const enabled = await exo(tenantId, "New-JournalRule", {
      ...rule,
      Name: "second",
      Enabled: true,
      Recipient: demo.group.address,
    });
    expect(enabled.body.value?.[0]).toMatchObject({ Enabled: true, Recipient: demo.group.address });
    const toMailbox = await exo(tenantId, "New-JournalRule", {
      ...rule,
      Name: "third",
      JournalEmailAddress: demo.bob,
    });
    expect(errorText(toMailbox)).toMatch(/can only be a mail user, a mail contact or an external address/);
    const badScope = await exo(tenantId, "New-JournalRule", { ...rule, Name: "fourth", Scope: "Everything" });
    expect(badScope.status).toBe(400);
  });

  it("tells users, distribution groups and Microsoft 365 groups apart in RecipientTypeDetails", async () => {
    const tenantId = randomUUID();
    const demo = sim.demo(tenantId);
    const type = async (identity: string) =>
      (await exo(tenantId, "Get-Recipient", { Identity: identity })).body.value?.[0]?.RecipientTypeDetails;
    expect(await type(demo.alice)).toBe("UserMailbox");
    expect(await type(`smtp:${demo.bob.toUpperCase()}`)).toBe("UserMailbox");
    expect(await type(demo.group.address)).toBe("MailUniversalDistributionGroup");
    expect(await type(demo.team.address)).toBe("GroupMailbox");
  });

  it("pages lists with @odata.nextLink, following with the same body", async () => {
    const tenantId = randomUUID();
    sim.configure({ pageSize: 2 });
    const names: unknown[] = [];
    let url: string | undefined;
    let pages = 0;
    do {
      const a = await exo(tenantId, "Get-Recipient", {}, url ? { url } : {});
      names.push(...(a.body.value ?? []).map((r) => r.PrimarySmtpAddress));
      url = a.body["@odata.nextLink"];
      pages++;
    } while (url);
    const count = sim.tenant(tenantId).recipients.length;
    expect(pages).toBe(Math.ceil(count / 2));
    expect(names).toHaveLength(count);
    expect(new Set(names).size).toBe(count);
  });

  it("groups: unique names and addresses, members must exist, adding a member twice is refused", async () => {
    const tenantId = randomUUID();
    const demo = sim.demo(tenantId);
    const created = await exo(tenantId, "New-DistributionGroup", {
      Name: "EU",
      PrimarySmtpAddress: `eu@${demo.domain}`,
      Type: "Distribution",
      Members: [demo.alice],
    });
    expect(created.body.value?.[0]).toMatchObject({
      Name: "EU",
      RecipientTypeDetails: "MailUniversalDistributionGroup",
    });
    expect((await exo(tenantId, "New-DistributionGroup", { Name: "EU" })).status).toBe(400);
    expect(
      (await exo(tenantId, "New-DistributionGroup", { Name: "EU2", PrimarySmtpAddress: demo.bob })).status,
    ).toBe(400);
    const ghost = await exo(tenantId, "New-DistributionGroup", {
      Name: "EU3",
      Members: [`ghost@${demo.domain}`],
    });
    expect([ghost.status, errorText(ghost)]).toEqual([404, expect.stringMatching(/Couldn't find object/)]);
    const twice = await exo(tenantId, "Add-DistributionGroupMember", { Identity: "EU", Member: demo.alice });
    expect(errorType(twice)).toMatch(/MemberAlreadyExistsException/);
    expect(sim.tenant(tenantId).groups.find((g) => g.name === "EU")).toMatchObject({
      members: [demo.alice],
      seeded: false,
    });
  });

  it("blocks writes in a dehydrated organisation until Enable-OrganizationCustomization", async () => {
    const tenantId = randomUUID();
    sim.setDehydrated(tenantId, true);
    const blocked = await exo(tenantId, "Set-TransportConfig", {
      JournalingReportNdrTo: sim.demo(tenantId).admin,
    });
    expect([blocked.status, errorType(blocked)]).toEqual([
      400,
      expect.stringMatching(/InvalidOperationInDehydratedContextException/),
    ]);
    expect((await exo(tenantId, "Get-OrganizationConfig")).body.value?.[0]?.IsDehydrated).toBe(true);
    expect((await exo(tenantId, "Enable-OrganizationCustomization")).status).toBe(200);
    expect(sim.tenant(tenantId).dehydrated).toBe(false);
    const again = await exo(tenantId, "Enable-OrganizationCustomization");
    expect(errorText(again)).toMatch(/already enabled for customization/);
  });

  it("lets validation fail for good when configured so", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", connector);
    sim.configure({ validation: { fail: true } });
    const a = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: ["a@journaling.mxrecord.io"],
    });
    expect(a.body.value?.some((t) => t.IsTaskSuccessful === false)).toBe(true);
    expect(sim.tenant(tenantId).connectors[0]).toMatchObject({ isValidated: false, validations: 1 });
  });

  it("records reads and writes with their parameters", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "Get-TransportConfig");
    await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin });
    const calls = sim.calls(tenantId).filter((c) => c.service === "exchange");
    expect(calls.map((c) => [c.operation, c.write, c.status])).toEqual([
      ["Get-TransportConfig", false, 200],
      ["Set-TransportConfig", true, 200],
    ]);
    expect(calls[1]?.parameters).toEqual({ JournalingReportNdrTo: sim.demo(tenantId).admin });
  });
});

describe("access control", () => {
  it("requires the anchor mailbox header and a token for Exchange, for this tenant", async () => {
    const tenantId = randomUUID();
    expect(
      (await exo(tenantId, "Get-TransportConfig", {}, { anchor: "UPN:someone@example.com" })).status,
    ).toBe(400);
    const graphToken = await accessToken(tenantId, sim.endpoints.graph);
    expect((await exo(tenantId, "Get-TransportConfig", {}, { bearer: graphToken })).status).toBe(401);
    const otherTenant = await accessToken(randomUUID());
    expect((await exo(tenantId, "Get-TransportConfig", {}, { bearer: otherTenant })).status).toBe(401);
    expect((await exo(tenantId, "Get-TransportConfig", {}, { bearer: "forged.token.value" })).status).toBe(
      401,
    );
  });

  it("refuses tokens without consent, with a wrong secret, or for an unknown resource", async () => {
    const tenantId = randomUUID();
    sim.setConsented(tenantId, false);
    const denied = await token(tenantId, sim.endpoints.graph);
    expect(denied.status).toBe(400);
    expect(await denied.json()).toMatchObject({ error: "unauthorized_client", error_codes: [700016] });
    sim.setConsented(tenantId, true);
    const wrong = await token(tenantId, sim.endpoints.graph, "nope");
    expect([wrong.status, ((await wrong.json()) as { error_codes: number[] }).error_codes]).toEqual([
      401,
      [7000215],
    ]);
    const resource = await token(tenantId, "https://example.com");
    expect(((await resource.json()) as { error_codes: number[] }).error_codes).toEqual([500011]);
  });

  it("grants consent through the admin consent URL and redirects back", async () => {
    const tenantId = randomUUID();
    sim.setConsented(tenantId, false);
    const res = await fetch(
      `${sim.url}/${tenantId}/adminconsent?client_id=${sim.clientId}&redirect_uri=${encodeURIComponent("https://portal.example/done")}&state=s1`,
      { redirect: "manual" },
    );
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(
      `https://portal.example/done?admin_consent=True&tenant=${tenantId}&state=s1`,
    );
    expect(sim.tenant(tenantId).consented).toBe(true);
  });

  it("serves the OpenID configuration MSAL reads", async () => {
    const tenantId = randomUUID();
    const res = await fetch(`${sim.url}/${tenantId}/v2.0/.well-known/openid-configuration`);
    expect(await res.json()).toMatchObject({
      token_endpoint: `${sim.url}/${tenantId}/oauth2/v2.0/token`,
      issuer: `${sim.url}/${tenantId}/v2.0`,
    });
  });
});

describe("a user's sign-in (authorization code)", () => {
  const redirectUri = "http://127.0.0.1:9/callback";
  const authorize = (tenantId: string, params: Record<string, string> = {}) =>
    fetch(
      `${sim.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({
        client_id: sim.clientId,
        response_type: "code",
        response_mode: "query",
        scope: "openid profile",
        redirect_uri: redirectUri,
        state: "s1",
        nonce: "n1",
        ...params,
      })}`,
      { redirect: "manual" },
    );
  const codeOf = async (tenantId: string) => {
    const response = await authorize(tenantId);
    expect(response.status).toBe(302);
    const back = new URL(response.headers.get("location")!);
    expect(back.searchParams.get("state")).toBe("s1");
    return back.searchParams.get("code")!;
  };
  const redeem = (tenantId: string, code: string, params: Record<string, string> = {}) =>
    fetch(`${sim.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: sim.clientId,
        client_secret: sim.clientSecret,
        code,
        redirect_uri: redirectUri,
        scope: "openid profile",
        ...params,
      }),
    });
  const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());

  it("signs in a Global Administrator of the tenant; the code gives an ID token once", async () => {
    const tenantId = randomUUID();
    const code = await codeOf(tenantId);
    const first = await redeem(tenantId, code);
    expect(first.status).toBe(200);
    const body = await first.json();
    expect(claimsOf(body.id_token)).toMatchObject({
      aud: sim.clientId,
      tid: tenantId,
      nonce: "n1",
      wids: expect.arrayContaining(["62e90394-69f5-4237-9190-012177145e10"]),
    });
    const again = await redeem(tenantId, code);
    expect(again.status).toBe(400);
    expect((await again.json()).error_description).toContain("AADSTS54005");
  });

  it("binds the code to its client secret, redirect URI and tenant", async () => {
    const tenantId = randomUUID();
    expect((await redeem(tenantId, await codeOf(tenantId), { client_secret: "wrong" })).status).toBe(401);
    const otherRedirect = await redeem(tenantId, await codeOf(tenantId), {
      redirect_uri: "http://127.0.0.1:9/x",
    });
    expect((await otherRedirect.json()).error_description).toContain("AADSTS500112");
    const otherTenant = await redeem(randomUUID(), await codeOf(tenantId));
    expect((await otherTenant.json()).error).toBe("invalid_grant");
    expect((await redeem(tenantId, "sim.never-issued")).status).toBe(400);
  });

  it("refuses an unregistered redirect URI without redirecting, and signs in the user a test chose", async () => {
    const tenantId = randomUUID();
    const bad = await authorize(tenantId, { redirect_uri: "https://evil.example/cb" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("AADSTS50011");
    const other = randomUUID();
    sim.setSignInUser(tenantId, { roles: [], tenantId: other });
    try {
      const body = await (await redeem(tenantId, await codeOf(tenantId))).json();
      const claims = claimsOf(body.id_token);
      expect(claims.tid).toBe(other);
      expect(claims.wids).not.toContain("62e90394-69f5-4237-9190-012177145e10");
    } finally {
      sim.setSignInUser(tenantId, null);
    }
  });
});

describe("faults", () => {
  it("draws the same random faults from the same seed", async () => {
    const tenantId = randomUUID();
    const bearer = await accessToken(tenantId);
    const run = async () => {
      sim.configure({ seed: 42, faults: { throttleRate: 0.3, serverErrorRate: 0.2, retryAfterSeconds: 3 } });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++)
        statuses.push((await exo(tenantId, "Get-TransportConfig", {}, { bearer })).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(429);
    expect(first).toContain(503);
    expect(first).toContain(200);
  });

  it("answers injected throttles with Retry-After", async () => {
    const tenantId = randomUUID();
    sim.failNext("*", "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 7 });
    const res = await fetch(`${sim.endpoints.exchange}/adminapi/beta/${tenantId}/InvokeCommand`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await accessToken(tenantId)}`,
        "x-anchormailbox": `APP:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`,
      },
      body: JSON.stringify({ CmdletInput: { CmdletName: "Get-TransportConfig", Parameters: {} } }),
    });
    expect([res.status, res.headers.get("retry-after")]).toEqual([429, "7"]);
    expect(sim.calls(tenantId).at(-1)).toMatchObject({
      operation: "Get-TransportConfig",
      status: 429,
      fault: "throttle",
    });
  });
});

describe("control over HTTP", () => {
  it("offers the same control API under /_sim", async () => {
    const tenantId = randomUUID();
    const remote = connectSimulator(sim.url);
    expect((await remote.demo(tenantId)).domain).toBe(sim.demo(tenantId).domain);
    await remote.setConsented(tenantId, false);
    expect((await remote.tenant(tenantId)).consented).toBe(false);
    await remote.setConsented(tenantId, true);
    await remote.setDehydrated(tenantId, true);
    expect(sim.tenant(tenantId).dehydrated).toBe(true);
    await remote.failNext(tenantId, "Get-OrganizationConfig", "server-error");
    expect((await exo(tenantId, "Get-OrganizationConfig")).status).toBe(503);
    await remote.configure({ pageSize: 100 });
    expect((await exo(tenantId, "Get-Recipient")).body["@odata.nextLink"]).toBeUndefined();
    expect((await remote.calls(tenantId)).map((c) => c.operation)).toContain("Get-Recipient");
    await remote.resetCalls();
    expect(await remote.calls(tenantId)).toEqual([]);
  });
});

describe("lifecycle", () => {
  it("keeps the CA, the app credentials and tenant state in dataDir across restarts", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "m365-sim-"));
    const first = await startSimulator({ dataDir });
    const tenantId = randomUUID();
    first.setDehydrated(tenantId, true);
    const { caPem, clientId, clientSecret } = first;
    await first.close();
    const second = await startSimulator({ dataDir });
    try {
      expect([second.caPem, second.clientId, second.clientSecret]).toEqual([caPem, clientId, clientSecret]);
      expect(second.tenant(tenantId).dehydrated).toBe(true);
      expect(await readFile(second.caPath, "utf8")).toBe(caPem);
    } finally {
      await second.close();
    }
  });

  it("brings a tenant persisted by an older simulator up to date (accepted domains, new demo recipients)", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "m365-sim-old-"));
    const first = await startSimulator({ dataDir });
    const tenantId = randomUUID();
    first.tenant(tenantId);
    await first.close();
    // What an older simulator wrote: no accepted domains, only the first five recipients.
    const file = join(dataDir, "simulator.json");
    const stored = JSON.parse(await readFile(file, "utf8"));
    for (const t of stored.tenants) {
      delete t.acceptedDomains;
      delete t.hydratingUntil;
      t.recipients = t.recipients.slice(0, 5);
    }
    await writeFile(file, JSON.stringify(stored));
    const second = await startSimulator({ dataDir });
    try {
      const demo = second.demo(tenantId);
      const state = second.tenant(tenantId);
      expect(state.acceptedDomains.map((d) => d.domainName)).toEqual(demo.acceptedDomains);
      expect(state.groups.find((g) => g.name === demo.existingGroup.name)?.members).toEqual([
        demo.carol.address,
      ]);
      expect(state.recipients.map((r) => r.primarySmtpAddress)).toContain(demo.alice);
    } finally {
      await second.close();
    }
  });

  it("runs standalone (npm run simulator) and prints where it is and how to use it", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "m365-sim-cli-"));
    const child = spawn(process.execPath, ["infra/local/m365-simulator/main.ts", "--data-dir", dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const lines: string[] = [];
      for await (const line of createInterface({ input: child.stdout! })) {
        lines.push(line);
        if (line.includes("M365_EXCHANGE_ENDPOINT")) break;
      }
      const url = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(lines.join("\n"))?.[1];
      expect(url).toBeDefined();
      expect(lines.join("\n")).not.toMatch(/M365_CLIENT_SECRET=/);
      const env = await readFile(join(dataDir, "simulator.env"), "utf8");
      expect(env).toMatch(/M365_CLIENT_SECRET=/);
      const remote = connectSimulator(url!, { caPem: await readFile(join(dataDir, "ca.pem"), "utf8") });
      expect((await remote.tenant("cli-tenant")).recipients.map((r) => r.primarySmtpAddress)).toContain(
        sim.demo("cli-tenant").alice,
      );
    } finally {
      child.kill("SIGTERM");
    }
  });
});
