/**
 * The Microsoft 365 adapter against the simulator over HTTPS: the real @azure/identity
 * credentials, the real Graph SDK client and our Exchange request core, no HTTP mocks.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createM365Gateway,
  createM365GatewayFromEnv,
  ExchangeClient,
  type M365CallEvent,
  m365ErrorDetails,
  RetryPolicy,
  TokenProvider,
} from "../functions/adapters/m365/index.ts";
import {
  AccessDeniedError,
  ConsentRequiredError,
  DehydratedOrganizationError,
  InvalidRequestError,
  NotFoundError,
  ThrottledError,
  TransientError,
} from "../functions/domain/errors.ts";
import type { M365Gateway, OutboundConnectorSpec } from "../functions/domain/m365.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { callsOf as callsIn, caught } from "./support/m365.ts";

let sim: Simulator;
let gateway: M365Gateway;
let events: M365CallEvent[] = [];

const RETRY = { baseDelayMs: 5, maxDelayMs: 3_000, timeoutMs: 5_000 };

const connectorSpec = (name = "Deliver journal directly to Area 1"): OutboundConnectorSpec => ({
  name,
  comment: name,
  connectorType: "Partner",
  recipientDomains: ["journaling.mxrecord.io"],
  smartHosts: ["mailstream-east.mxrecord.io", "mailstream-west.mxrecord.io"],
  useMxRecord: false,
  tlsSettings: "CertificateValidation",
  enabled: true,
  isTransportRuleScoped: false,
});

function gatewayWith(overrides: Partial<Parameters<typeof createM365Gateway>[0]> = {}): M365Gateway {
  return createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    retry: RETRY,
    ...overrides,
  });
}

const callsOf = (tenantId: string, operation: string) => callsIn(sim, tenantId, operation);

beforeAll(async () => {
  sim = await startSimulator({ clientCertificate: true });
  gateway = gatewayWith({ onCall: (e) => events.push(e) });
});

afterAll(async () => {
  await sim?.close();
});

afterEach(() => {
  sim.configure({
    validation: { lag: 0, fail: false },
    faults: { throttleRate: 0, serverErrorRate: 0, dropRate: 0 },
  });
  events = [];
});

describe("Graph", () => {
  it("reads the organisation with a token for the Graph resource", async () => {
    const tenantId = randomUUID();
    const org = await gateway.tenant(tenantId).graph.getOrganization();
    expect(org.id).toBe(tenantId);
    expect(org.displayName).toContain(sim.demo(tenantId).domain);
    const tokenCalls = callsOf(tenantId, "token");
    expect(tokenCalls.map((c) => c.resource)).toEqual([sim.endpoints.graph]);
    expect(callsOf(tenantId, "GET /organization")).toHaveLength(1);
  });
});

describe("tokens", () => {
  it("asks once per tenant and resource while the token is valid, also under concurrency", async () => {
    const tenantId = randomUUID();
    const t = gateway.tenant(tenantId);
    const demo = sim.demo(tenantId);
    await Promise.all([
      t.graph.getOrganization(),
      t.graph.getOrganization(),
      ...[demo.admin, demo.alice, demo.bob, demo.group.address].map((a) => t.exchange.getRecipient(a)),
    ]);
    await t.exchange.getTransportConfig();
    await t.graph.getOrganization();
    const resources = callsOf(tenantId, "token").map((c) => c.resource);
    expect(resources.sort()).toEqual([sim.endpoints.exchange, sim.endpoints.graph].sort());
    // Another tenant gets its own tokens.
    const other = randomUUID();
    await gateway.tenant(other).exchange.getTransportConfig();
    expect(callsOf(other, "token")).toHaveLength(1);
    expect(callsOf(tenantId, "token")).toHaveLength(2);
  });

  it("asks again for a token that is near expiry", async () => {
    const tenantId = randomUUID();
    const provider = new TokenProvider({
      clientId: sim.clientId,
      credential: { clientSecret: sim.clientSecret },
      authorityHost: sim.endpoints.authorityHost,
      disableInstanceDiscovery: true,
    });
    // Two minutes is inside both our renewal margin and MSAL's own (5 minutes).
    sim.configure({ tokenLifetimeSeconds: 120 });
    try {
      const first = await provider.getToken(tenantId, sim.endpoints.exchange);
      const second = await provider.getToken(tenantId, sim.endpoints.exchange);
      expect(second).not.toBe(first);
      expect(callsOf(tenantId, "token")).toHaveLength(2);
    } finally {
      sim.configure({ tokenLifetimeSeconds: 3600 });
    }
  });

  it("works with a client certificate (PEM inline or from a file)", async () => {
    const tenantId = randomUUID();
    const pem = sim.clientCertificatePem!;
    const inline = gatewayWith({ clientSecret: undefined, clientCertificatePem: pem });
    expect((await inline.tenant(tenantId).graph.getOrganization()).id).toBe(tenantId);
    const dir = await mkdtemp(join(tmpdir(), "m365-cert-"));
    const path = join(dir, "app.pem");
    await writeFile(path, pem, { mode: 0o600 });
    const fromFile = gatewayWith({ clientSecret: undefined, clientCertificatePath: path });
    expect(await fromFile.tenant(tenantId).exchange.getTransportConfig()).toEqual({
      journalingReportNdrTo: null,
    });
  });
});

describe("Exchange operations", () => {
  it("creates, reads, changes, validates and removes an outbound connector", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const spec = connectorSpec();
    expect(await ex.getOutboundConnector(spec.name)).toBeUndefined();
    const created = await ex.newOutboundConnector(spec);
    expect(created).toEqual({
      ...spec,
      identity: spec.name,
      testMode: false,
      isValidated: false,
      validationRecipients: [],
    });
    expect(await ex.getOutboundConnector(spec.name)).toEqual(created);

    await ex.setOutboundConnector(created.identity, {
      smartHosts: ["mailstream-eu1.mxrecord.io"],
      enabled: false,
    });
    const changed = await ex.getOutboundConnector(spec.name);
    expect(changed?.smartHosts).toEqual(["mailstream-eu1.mxrecord.io"]);
    expect(changed?.enabled).toBe(false);
    await ex.setOutboundConnector(created.identity, { enabled: true });

    const tasks = await ex.validateOutboundConnector(spec.name, ["acme@journaling.mxrecord.io"]);
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.every((t) => t.outcome === "passed")).toBe(true);
    // Validation does not mark the connector validated (Microsoft's doc); we do, afterwards.
    expect(sim.tenant(tenantId).connectors[0]?.isValidated).toBe(false);
    await ex.markConnectorValidated(
      created.identity,
      ["acme@journaling.mxrecord.io"],
      new Date().toISOString(),
    );
    expect(await ex.getOutboundConnector(spec.name)).toMatchObject({
      isValidated: true,
      validationRecipients: ["acme@journaling.mxrecord.io"],
    });

    await ex.removeOutboundConnector(created.identity);
    expect(await ex.getOutboundConnector(spec.name)).toBeUndefined();
    expect(sim.tenant(tenantId).connectors).toEqual([]);
  });

  it("reports failed validation tasks while validation lags creation", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.configure({ validation: { lag: 2 } });
    await ex.newOutboundConnector(connectorSpec());
    const runs = [];
    for (let i = 0; i < 3; i++)
      runs.push(await ex.validateOutboundConnector(connectorSpec().name, ["a@journaling.mxrecord.io"]));
    expect(runs.map((tasks) => tasks.every((t) => t.outcome === "passed"))).toEqual([false, false, true]);
    expect(runs[0]?.find((t) => t.outcome === "failed")?.details).toMatch(/validate again/);
  });

  it("reads and sets the journaling NDR address, and clears it", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const { admin } = sim.demo(tenantId);
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: null });
    await ex.setTransportConfig({ journalingReportNdrTo: admin });
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: admin });
    await ex.setTransportConfig({ journalingReportNdrTo: null });
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
  });

  it("tells users from groups and teams, and unknown recipients apart", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const demo = sim.demo(tenantId);
    expect(await ex.getRecipient(demo.alice)).toMatchObject({
      primarySmtpAddress: demo.alice,
      recipientTypeDetails: "UserMailbox",
    });
    expect((await ex.getRecipient(demo.group.address))?.recipientTypeDetails).toBe(
      "MailUniversalDistributionGroup",
    );
    expect((await ex.getRecipient(demo.team.address))?.recipientTypeDetails).toBe("GroupMailbox");
    expect(await ex.getRecipient(`nobody@${demo.domain}`)).toBeUndefined();
  });

  it("manages journal rules: NDR address first, enabled as asked, then set/disable/enable/remove", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const demo = sim.demo(tenantId);
    const spec = {
      name: "Journal Messages to CloudflareArea 1",
      journalEmailAddress: "acme@journaling.mxrecord.io",
      scope: "External" as const,
      recipient: null,
      enabled: true,
    };
    const early = await caught(ex.newJournalRule(spec));
    expect(early).toBeInstanceOf(InvalidRequestError);
    expect(early.message).toMatch(
      /^New-JournalRule: Before you create a journal rule, you must specify an email account/,
    );

    await ex.setTransportConfig({ journalingReportNdrTo: demo.admin });
    const rule = await ex.newJournalRule(spec);
    expect(rule).toEqual({ ...spec, identity: spec.name, guid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(sim.tenant(tenantId).journalRules[0]?.enabled).toBe(true);

    await ex.setJournalRule(rule.identity, { recipient: demo.group.address, scope: "Global" });
    expect(await ex.getJournalRule(spec.name)).toMatchObject({
      recipient: demo.group.address,
      scope: "Global",
    });
    await ex.disableJournalRule(rule.identity);
    expect((await ex.getJournalRule(spec.name))?.enabled).toBe(false);
    await ex.enableJournalRule(rule.identity);
    expect((await ex.getJournalRule(spec.name))?.enabled).toBe(true);
    // By its Guid whatever its name: renamed, read, changed and removed by the Guid.
    await ex.setJournalRule(rule.guid, { name: "Renamed by the admin" });
    expect(await ex.getJournalRule(spec.name)).toBeUndefined();
    expect(await ex.getJournalRule(rule.guid)).toMatchObject({
      name: "Renamed by the admin",
      guid: rule.guid,
    });
    await ex.removeJournalRule(rule.guid);
    expect(await ex.getJournalRule(rule.guid)).toBeUndefined();
    expect(sim.tenant(tenantId).journalRules).toEqual([]);
  });

  it("creates a distribution group, lists its members over several pages and adds members", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const demo = sim.demo(tenantId);
    // A Microsoft 365 group cannot be a member of a distribution group (the cmdlet's doc); a mail contact can.
    const members = [demo.admin, demo.alice, demo.bob, demo.group.address, demo.contact.address];
    const group = await ex.newDistributionGroup({
      name: "EU users",
      primarySmtpAddress: `eu@${demo.domain}`,
      members: members.slice(0, 4),
    });
    expect(group).toMatchObject({
      name: "EU users",
      primarySmtpAddress: `eu@${demo.domain}`,
      recipientTypeDetails: "MailUniversalDistributionGroup",
    });
    expect(await ex.getDistributionGroup("EU users")).toEqual(group);

    sim.resetCalls();
    const addresses = async () =>
      (await ex.listDistributionGroupMembers(group.identity)).map((m) => m.primarySmtpAddress).sort();
    expect(await addresses()).toEqual(members.slice(0, 4).sort());
    const pages = callsOf(tenantId, "Get-DistributionGroupMember");
    expect(pages.map((c) => c.page ?? 1)).toEqual([1, 2]);

    expect(await ex.addDistributionGroupMember(group.identity, demo.contact.address)).toEqual({
      added: true,
    });
    // A member that is already there is the desired state, not an error, and not our membership.
    expect(await ex.addDistributionGroupMember(group.identity, demo.alice)).toEqual({ added: false });
    expect(await addresses()).toEqual(members.sort());
    // Each member comes with every name it goes by (members are compared by recipient).
    const alice = (await ex.listDistributionGroupMembers(group.identity)).find(
      (m) => m.primarySmtpAddress === demo.alice,
    );
    expect(alice?.names).toEqual(expect.arrayContaining([demo.alice, "alice"]));
    expect(alice?.guid).toMatch(/^[0-9a-f-]{36}$/);
    expect(callsOf(tenantId, "Get-DistributionGroupMember").map((c) => c.page ?? 1)).toEqual([
      1, 2, 1, 2, 3, 1, 2, 3,
    ]);

    // Removing a member that is not (or no longer) there is quiet: it is gone either way.
    await ex.removeDistributionGroupMember(group.identity, demo.contact.address);
    await ex.removeDistributionGroupMember(group.identity, demo.contact.address);
    expect(callsOf(tenantId, "Remove-DistributionGroupMember").map((c) => c.status)).toEqual([200, 400]);

    // Its Guid finds it whatever its name; renamed by it, its name and display name change.
    expect(group.guid).toMatch(/^[0-9a-f-]{36}$/);
    sim.tamper(tenantId, { action: "rename-group", name: "EU users", newName: "Renamed users" });
    expect(await ex.getDistributionGroup("EU users")).toBeUndefined();
    expect(await ex.getDistributionGroup(group.guid)).toMatchObject({
      name: "Renamed users",
      guid: group.guid,
    });
    await ex.setDistributionGroup(group.guid, { name: "EU users" });
    expect(callsOf(tenantId, "Set-DistributionGroup").map((c) => c.parameters)).toEqual([
      {
        Identity: group.guid,
        Name: "EU users",
        DisplayName: "EU users",
        BypassSecurityGroupManagerCheck: true,
      },
    ]);
    expect(sim.tenant(tenantId).groups.find((g) => g.guid === group.guid)).toMatchObject({
      name: "EU users",
      displayName: "EU users",
    });

    await ex.removeDistributionGroup(group.guid);
    expect(await ex.getDistributionGroup("EU users")).toBeUndefined();
  });

  it("handles a dehydrated organisation: writes fail until Enable-OrganizationCustomization", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.setDehydrated(tenantId, true);
    const err = await caught(ex.setTransportConfig({ journalingReportNdrTo: sim.demo(tenantId).admin }));
    expect(err).toBeInstanceOf(DehydratedOrganizationError);
    expect(err.message).toMatch(/Enable-OrganizationCustomization/);
    expect(callsOf(tenantId, "Set-TransportConfig")).toHaveLength(1);

    await ex.enableOrganizationCustomization();
    await ex.setTransportConfig({ journalingReportNdrTo: sim.demo(tenantId).admin });
    // Already customised: succeeds quietly.
    await ex.enableOrganizationCustomization();
    expect(callsOf(tenantId, "Enable-OrganizationCustomization")).toHaveLength(2);
  });

  it("reconciles writes whose answer was lost after Exchange applied them", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "New-OutboundConnector", { kind: "drop", afterApplying: true });
    const created = await ex.newOutboundConnector(connectorSpec());
    expect(created.name).toBe(connectorSpec().name);
    expect(callsOf(tenantId, "New-OutboundConnector").map((c) => c.status)).toEqual([0, 400]);
    expect(sim.tenant(tenantId).connectors).toHaveLength(1);

    sim.failNext(tenantId, "Remove-OutboundConnector", { kind: "drop", afterApplying: true });
    await ex.removeOutboundConnector(created.identity);
    expect(callsOf(tenantId, "Remove-OutboundConnector").map((c) => c.status)).toEqual([0, 404]);
    expect(sim.tenant(tenantId).connectors).toHaveLength(0);
  });
});

describe("errors", () => {
  it("maps a tenant without consent to ConsentRequiredError, on Graph and Exchange, without retrying", async () => {
    const tenantId = randomUUID();
    sim.setConsented(tenantId, false);
    const t = gateway.tenant(tenantId);
    const graphErr = await caught(t.graph.getOrganization());
    expect(graphErr).toBeInstanceOf(ConsentRequiredError);
    expect(graphErr.message).toMatch(/AADSTS700016/);
    expect(await caught(t.exchange.getTransportConfig())).toBeInstanceOf(ConsentRequiredError);
    expect(callsOf(tenantId, "GET /organization")).toHaveLength(0);
    expect(gateway.consentUrl(tenantId)).toBe(
      `${sim.endpoints.authorityHost}/${tenantId}/adminconsent?client_id=${sim.clientId}`,
    );
    // The admin follows the consent URL; then access works.
    const consent = await fetch(gateway.consentUrl(tenantId));
    expect(consent.status).toBe(200);
    expect((await t.graph.getOrganization()).id).toBe(tenantId);
  });

  it("maps AADSTS65001 and other consent codes from Entra to ConsentRequiredError", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "token", {
      kind: "error",
      status: 400,
      code: "invalid_grant",
      message: "AADSTS65001: The user or administrator has not consented to use the application.",
    });
    const err = await caught(gatewayWith().tenant(tenantId).graph.getOrganization());
    expect(err).toBeInstanceOf(ConsentRequiredError);
    expect(err.message).toContain("AADSTS65001");
  });

  it("maps rejected app credentials to AccessDeniedError", async () => {
    const tenantId = randomUUID();
    const wrong = gatewayWith({ clientSecret: "not-the-secret" });
    const err = await caught(wrong.tenant(tenantId).exchange.getTransportConfig());
    expect(err).toBeInstanceOf(AccessDeniedError);
    expect(err.message).toMatch(/AADSTS7000215/);
  });

  it("maps 403 to AccessDeniedError and 401 with consent text to ConsentRequiredError, with Exchange's text", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status: 403,
      message: "Access is denied.",
    });
    // (A 403 saying the app's role "isn't supported in this scenario" is missing permissions:
    // test/exchange-access.test.ts.)
    const denied = await caught(ex.getTransportConfig());
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied.message).toBe("Get-TransportConfig: Access is denied.");
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status: 401,
      message: "The app has not been granted consent for Exchange.ManageAsApp.",
    });
    expect(await caught(ex.getTransportConfig())).toBeInstanceOf(ConsentRequiredError);
    expect(callsOf(tenantId, "Get-TransportConfig")).toHaveLength(2);
  });

  it("maps invalid requests to InvalidRequestError and does not retry them", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    const err = await caught(ex.newOutboundConnector(connectorSpec("x".repeat(65))));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toMatch(/maximum length is 64/);
    expect(m365ErrorDetails(err)).toMatchObject({ service: "exchange", status: 400, attempts: 1 });
    expect(callsOf(tenantId, "New-OutboundConnector")).toHaveLength(1);

    const mx = await caught(ex.newOutboundConnector({ ...connectorSpec(), smartHosts: [] }));
    expect(mx).toBeInstanceOf(InvalidRequestError);
    expect(mx.message).toMatch(/SmartHosts must be specified/);
  });

  it("maps a missing object on a write to NotFoundError", async () => {
    const tenantId = randomUUID();
    const err = await caught(
      gateway.tenant(tenantId).exchange.setOutboundConnector("No such connector", { enabled: false }),
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toMatch(/couldn't be found/);
  });

  it("maps a Graph 404 to NotFoundError", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "GET /organization", {
      kind: "error",
      status: 404,
      code: "Request_ResourceNotFound",
      message: "gone",
    });
    const err = await caught(gateway.tenant(tenantId).graph.getOrganization());
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe("GET /organization: gone");
  });

  it("retries 5xx and dropped connections, then gives up with TransientError", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-TransportConfig", "server-error");
    sim.failNext(tenantId, "Get-TransportConfig", "drop");
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: null });
    expect(callsOf(tenantId, "Get-TransportConfig").map((c) => c.status)).toEqual([503, 0, 200]);
    expect(events.filter((e) => e.operation === "Get-TransportConfig").map((e) => e.outcome)).toEqual([
      "retry",
      "retry",
      "success",
    ]);

    sim.failNext(tenantId, "Get-JournalRule", "server-error", 4);
    const err = await caught(ex.getJournalRule("any"));
    expect(err).toBeInstanceOf(TransientError);
    expect(m365ErrorDetails(err)?.attempts).toBe(4);
    expect(callsOf(tenantId, "Get-JournalRule")).toHaveLength(4);
  });

  it("retries token requests that fail transiently under the same policy (one retry layer)", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "token", "server-error");
    sim.failNext(tenantId, "token", "drop");
    expect((await gateway.tenant(tenantId).graph.getOrganization()).id).toBe(tenantId);
    expect(callsOf(tenantId, "token").map((c) => c.status)).toEqual([503, 0, 200]);

    const throttled = randomUUID();
    sim.failNext(throttled, "token", "throttle", 4);
    const err = await caught(gateway.tenant(throttled).exchange.getTransportConfig());
    expect(err).toBeInstanceOf(ThrottledError);
    expect(callsOf(throttled, "token")).toHaveLength(4);
  });

  it("turns a slow answer into TransientError after the attempt timeout", async () => {
    const tenantId = randomUUID();
    const impatient = gatewayWith({ retry: { ...RETRY, timeoutMs: 300, maxAttempts: 1 } });
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "delay", ms: 1_500 });
    const err = await caught(impatient.tenant(tenantId).exchange.getTransportConfig());
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toMatch(/timed out/);
  });
});

describe("throttling", () => {
  it("waits at least Retry-After (seconds) before the next Exchange attempt", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 1 });
    await gateway.tenant(tenantId).exchange.getTransportConfig();
    const [throttled, retried] = callsOf(tenantId, "Get-TransportConfig");
    expect(throttled?.status).toBe(429);
    expect(retried?.status).toBe(200);
    expect(retried!.at - throttled!.at).toBeGreaterThanOrEqual(1_000);
    expect(events.filter((e) => e.errorName === "ThrottledError")).toMatchObject([
      { retryAfterMs: 1_000, outcome: "retry" },
    ]);
  });

  it("honours Retry-After given as an HTTP date, on Graph too", async () => {
    const tenantId = randomUUID();
    const until = new Date(Math.ceil((Date.now() + 1_500) / 1000) * 1000);
    sim.failNext(tenantId, "GET /organization", { kind: "throttle", retryAfterDate: until.toUTCString() });
    await gateway.tenant(tenantId).graph.getOrganization();
    const [throttled, retried] = callsOf(tenantId, "GET /organization");
    expect(throttled?.status).toBe(429);
    expect(retried?.status).toBe(200);
    expect(retried!.at).toBeGreaterThanOrEqual(until.getTime());
  });

  it("hands a Retry-After longer than the in-task cap to the workflow as ThrottledError", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "New-JournalRule", { kind: "throttle", retryAfterSeconds: 120 });
    const err = await caught(
      gateway.tenant(tenantId).exchange.newJournalRule({
        name: "r",
        journalEmailAddress: "a@journaling.mxrecord.io",
        scope: "External",
        recipient: null,
        enabled: true,
      }),
    );
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retryAfterMs).toBe(120_000);
    expect(callsOf(tenantId, "New-JournalRule")).toHaveLength(1);
  });

  it("gives up with ThrottledError after the bounded number of attempts", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 0 }, 4);
    const err = await caught(gateway.tenant(tenantId).exchange.getTransportConfig());
    expect(err).toBeInstanceOf(ThrottledError);
    expect(callsOf(tenantId, "Get-TransportConfig").map((c) => c.status)).toEqual([429, 429, 429, 429]);
  });

  it("survives random faults with in-task retries (seeded, so the run repeats)", async () => {
    const tenantId = randomUUID();
    sim.configure({
      seed: 7,
      faults: { throttleRate: 0.2, retryAfterSeconds: 0, serverErrorRate: 0.1, dropRate: 0.05 },
    });
    const sturdy = gatewayWith({ retry: { ...RETRY, maxAttempts: 10 } });
    const ex = sturdy.tenant(tenantId).exchange;
    const demo = sim.demo(tenantId);
    for (const a of [demo.admin, demo.alice, demo.bob, demo.group.address, demo.team.address]) {
      expect((await ex.getRecipient(a))?.primarySmtpAddress).toBe(a);
    }
    const faults = sim.calls(tenantId).filter((c) => c.fault !== undefined);
    expect(faults.length).toBeGreaterThan(0);
  });
});

describe("configuration", () => {
  it("builds the gateway from the environment (explicit endpoints, instance discovery off)", async () => {
    const tenantId = randomUUID();
    const fromEnv = createM365GatewayFromEnv(
      {
        M365_CLIENT_ID: sim.clientId,
        M365_CLIENT_SECRET: sim.clientSecret,
        M365_AUTHORITY_HOST: sim.endpoints.authorityHost,
        M365_GRAPH_ENDPOINT: sim.endpoints.graph,
        M365_EXCHANGE_ENDPOINT: `${sim.endpoints.exchange}/`,
        M365_CONSENT_REDIRECT_URI: "https://portal.example/consented",
      },
      { retry: RETRY },
    );
    expect(fromEnv).toBeDefined();
    expect((await fromEnv!.tenant(tenantId).graph.getOrganization()).id).toBe(tenantId);
    expect(await fromEnv!.tenant(tenantId).exchange.getTransportConfig()).toEqual({
      journalingReportNdrTo: null,
    });
    expect(fromEnv!.consentUrl(tenantId)).toBe(
      `${sim.url}/${tenantId}/adminconsent?client_id=${sim.clientId}&redirect_uri=${encodeURIComponent("https://portal.example/consented")}`,
    );
    expect(createM365GatewayFromEnv({})).toBeUndefined();
  });

  it("uses the injected retry policy and request core directly", async () => {
    const tenantId = randomUUID();
    const tokens = new TokenProvider({
      clientId: sim.clientId,
      credential: { clientSecret: sim.clientSecret },
      authorityHost: sim.endpoints.authorityHost,
      disableInstanceDiscovery: true,
    });
    const core = new ExchangeClient({
      endpoint: sim.endpoints.exchange,
      tokens,
      retry: new RetryPolicy(RETRY),
    });
    // Without -Enabled, Exchange creates a disabled journal rule.
    await core.invoke(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin });
    const [row] = await core.invoke(tenantId, "New-JournalRule", {
      Name: "default",
      JournalEmailAddress: "j@example.net",
    });
    expect(row).toMatchObject({ Name: "default", Enabled: false });
    const recipients = await core.invoke(tenantId, "Get-Recipient");
    const count = sim.tenant(tenantId).recipients.length;
    expect(recipients).toHaveLength(count);
    expect(callsOf(tenantId, "Get-Recipient").map((c) => c.page ?? 1)).toEqual(
      Array.from({ length: Math.ceil(count / 2) }, (_, i) => i + 1),
    );
  });
});
