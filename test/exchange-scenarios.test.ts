/**
 * End-to-end scenarios of Exchange Online as it really behaves (docs/m365-fidelity.md), each
 * run through the real workflow (the ASL in aws-local-stepfunctions, retry intervals scaled
 * down), the real store on dynalite and the real Microsoft 365 clients against the strict
 * simulator over HTTPS, with the simulator's real-world behaviours switched on per scenario.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RegionMode } from "../functions/domain/provider.ts";
import { AREA1, journalAddress } from "../functions/domain/provider.ts";
import type { OnboardingRequest, Tenant } from "../functions/domain/tenant.ts";
import { defaultBehaviours } from "../infra/local/m365-simulator/behaviours.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

afterEach(() => {
  // Every behaviour back to the simulator's defaults, and no random faults.
  h.sim.configure({
    ...defaultBehaviours(),
    latencyMs: 0,
    faults: { throttleRate: 0, serverErrorRate: 0, dropRate: 0 },
  });
});

type Demo = ReturnType<WorkflowHarness["sim"]["demo"]>;

const calls = (tenantId: string, operation: string) =>
  h.sim.calls(tenantId).filter((c) => c.operation === operation);
const okWrites = (tenantId: string) => h.writes(tenantId);
const step = (t: Tenant, name: string) => t.steps.find((s) => s.name === name);
const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase()).sort();

describe("offboarding and the NDR address Exchange will not clear", () => {
  it("clears an address that was empty once the journal rules are gone (refused while rules exist)", async () => {
    const req = h.request({ region: "us" });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const after = await h.offboard(req.tenantId);
    expect(after.status).toBe("offboarded");
    expect(after.ndrAddressKept).toBeUndefined();
    expect(h.sim.tenant(req.tenantId).journalingReportNdrTo).toBeNull();
    // The order that makes it possible: every rule removed before the address is cleared.
    const seq = (op: string) => calls(req.tenantId, op).map((c) => c.seq);
    expect(Math.max(...seq("Remove-JournalRule"))).toBeLessThan(
      Math.min(...seq("Set-TransportConfig").slice(1)),
    );
    expect(after.steps.slice(-4).map((s) => [s.name, s.status])).toEqual([
      ["remove-journal-rules", "succeeded"],
      ["remove-groups", "skipped"],
      ["remove-connectors", "skipped"],
      ["restore-journal-settings", "succeeded"],
    ]);
  });

  it("leaves an address Exchange never lets go of, succeeds, and says so on the tenant and the event", async () => {
    h.sim.configure({ ndrClearing: "never" });
    const req = h.request({ region: "eu" });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const after = await h.offboard(req.tenantId);
    expect(after.status).toBe("offboarded");
    expect(after.ndrAddressKept).toBe(true);
    expect(h.sim.tenant(req.tenantId).journalingReportNdrTo?.toLowerCase()).toBe(
      req.ndrAddress.toLowerCase(),
    );
    expect(h.sim.tenant(req.tenantId).journalRules).toEqual([]);
    const last = (await h.store.listEvents(req.tenantId)).at(-1);
    expect(last?.type).toBe("tenant.offboarding.succeeded");
    expect(last?.data.ndrAddressKept).toBe(true);
  });

  it("puts back an address that was set before onboarding", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    await h.m365
      .tenant(tenantId)
      .exchange.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
    const req = h.request({ tenantId, region: "us" });
    expect((await h.onboard(req)).status).toBe("succeeded");
    expect((await h.offboard(tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(tenantId).journalingReportNdrTo?.toLowerCase()).toBe(demo.contact.address);
  });
});

describe("offboarding after a correction", () => {
  it("restores the NDR address onboarding wrote, though a PATCH changed the request since", async () => {
    const req = h.request({ region: "us" });
    h.sim.failNext(req.tenantId, "New-JournalRule", {
      kind: "error",
      status: 400,
      exceptionType: "System.InvalidOperationException",
      message: "The journal rule quota is exhausted.",
    });
    const failed = await h.onboard(req);
    expect(failed.status).toBe("failed");
    expect(h.sim.tenant(req.tenantId).journalingReportNdrTo?.toLowerCase()).toBe(
      req.ndrAddress.toLowerCase(),
    );
    await h.service.correct({ role: "ops" }, req.tenantId, {
      ndrAddress: h.sim.demo(req.tenantId).contact.address,
    });
    const after = await h.offboard(req.tenantId);
    expect(after.status).toBe("offboarded");
    expect(h.sim.tenant(req.tenantId).journalingReportNdrTo).toBeNull();
  });
});

describe("connector validation", () => {
  it("retries while Exchange cannot find a new connector yet (replication), then marks it validated", async () => {
    h.sim.configure({ replicationLagCalls: 3 });
    const req = h.request({ region: "us", outboundGateway: true });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    expect(step(tenant, "validate-connector")?.attempts).toBe(4);
    expect(calls(req.tenantId, "Validate-OutboundConnector").map((c) => c.status)).toEqual([
      404, 404, 404, 200,
    ]);
    const connector = h.sim.tenant(req.tenantId).connectors[0]!;
    expect(connector.isValidated).toBe(true);
    // The cmdlet does not mark it; our Set-OutboundConnector after the pass does.
    const marks = calls(req.tenantId, "Set-OutboundConnector").filter(
      (c) => c.parameters?.IsValidated === true,
    );
    expect(marks).toHaveLength(1);
    expect(marks[0]?.parameters?.ValidationRecipients).toEqual([
      `${req.customerName}@journaling.mxrecord.io`,
    ]);
    // A re-run sends no further test message and writes nothing.
    const writesBefore = okWrites(req.tenantId).length;
    const validationsBefore = calls(req.tenantId, "Validate-OutboundConnector").length;
    expect((await h.rerun(req.tenantId)).status).toBe("succeeded");
    expect(calls(req.tenantId, "Validate-OutboundConnector")).toHaveLength(validationsBefore);
    expect(okWrites(req.tenantId)).toHaveLength(writesBefore);
  });

  it("fails with each refusing task's message after a few tries, and never journals through that connector", async () => {
    h.sim.configure({ validation: { refuseHosts: ["mailstream-west.mxrecord.io"] } });
    const req = h.request({ region: "us", outboundGateway: true });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("failed");
    const validation = step(tenant, "validate-connector");
    expect(validation?.status).toBe("failed");
    expect(validation?.error?.code).toBe("CONNECTOR_VALIDATION_FAILED");
    expect(validation?.error?.message).toMatch(/mailstream-west\.mxrecord\.io/);
    // The first try and three retries within about 5 minutes: four test messages, no more.
    expect(calls(req.tenantId, "Validate-OutboundConnector")).toHaveLength(4);
    expect(h.sim.tenant(req.tenantId).connectors[0]?.isValidated).toBe(false);
    expect(h.sim.tenant(req.tenantId).journalRules).toEqual([]);
    expect(tenant.error?.code).toBe("CONNECTOR_VALIDATION_FAILED");
  });
});

describe("adopted objects", () => {
  it("plans the clearing of an adopted rule's Recipient (journal everyone) as a visible change", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const ex = h.m365.tenant(tenantId).exchange;
    const req = h.request({ tenantId, region: "us", approval: "required" });
    // The customer's own rule of that name journals one mailbox only; the guide's journals everyone.
    await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
    await ex.newJournalRule({
      name: AREA1.journalRuleName,
      journalEmailAddress: journalAddress(AREA1, "us", req.customerName),
      scope: "External",
      recipient: demo.alice,
      enabled: true,
    });
    const waiting = await h.onboard(req);
    expect(waiting.status).toBe("awaiting_approval");
    expect(waiting.plan).toContainEqual(
      expect.objectContaining({
        step: "journal-rules",
        cmdlet: "Set-JournalRule",
        parameters: { Identity: AREA1.journalRuleName, Recipient: null },
      }),
    );
  });

  it("adopts a group whose member the request names by UPN: no duplicate add, and offboarding keeps her", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const req = h.request({
      tenantId,
      region: "split",
      groups: {
        // carol is already in it, by her primary address; the request names her by UPN.
        eu: {
          name: demo.existingGroup.name,
          primarySmtpAddress: demo.existingGroup.address,
          members: [demo.carol.userPrincipalName, demo.alice],
        },
        us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
      },
    });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    const adds = calls(tenantId, "Add-DistributionGroupMember").filter((c) => c.status === 200);
    expect(adds).toHaveLength(1);
    const group = () => h.sim.tenant(tenantId).groups.find((g) => g.name === demo.existingGroup.name)!;
    expect(lower(group().members)).toEqual(lower([demo.carol.address, demo.alice]));
    const owned = await h.store.listOwnedMembers(tenantId, 100);
    expect(owned).toHaveLength(1);

    // Desired state: a second run writes nothing and resolves nobody again.
    const before = okWrites(tenantId).length;
    const resolved = calls(tenantId, "Get-Recipient").length;
    expect((await h.rerun(tenantId)).status).toBe("succeeded");
    expect(okWrites(tenantId).length).toBe(before);
    // carol is matched by her UPN among the members' names: nobody is looked up again.
    expect(calls(tenantId, "Get-Recipient").length - resolved).toBe(1); // the NDR check only

    expect((await h.offboard(tenantId)).status).toBe("offboarded");
    expect(lower(group().members)).toEqual(lower([demo.carol.address]));
  });

  it("records an adopted connector's and rule's values before changing them, and puts them back on offboarding", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const ex = h.m365.tenant(tenantId).exchange;
    // The customer's own connector and rule, of the same names, set up by hand.
    await ex.newOutboundConnector({
      name: AREA1.connectorName,
      comment: "set up by hand",
      connectorType: "Partner",
      recipientDomains: ["journaling.mxrecord.io"],
      smartHosts: ["relay.customer-archive.example"],
      useMxRecord: false,
      tlsSettings: "EncryptionOnly",
      enabled: false,
    });
    await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
    await ex.newJournalRule({
      name: AREA1.journalRuleName,
      journalEmailAddress: "journal@customer-archive.example",
      scope: "Global",
      recipient: null,
      enabled: false,
    });
    const before = h.sim.tenant(tenantId);
    const req = h.request({ tenantId, region: "us", outboundGateway: true });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    const during = h.sim.tenant(tenantId);
    expect(during.connectors[0]?.smartHosts).toEqual([
      "mailstream-east.mxrecord.io",
      "mailstream-west.mxrecord.io",
    ]);
    expect(during.journalRules[0]).toMatchObject({ scope: "External", enabled: true });
    expect(calls(tenantId, "New-OutboundConnector")).toHaveLength(1); // only ours above
    expect(calls(tenantId, "New-JournalRule")).toHaveLength(1);

    const after = await h.offboard(tenantId);
    expect(after.status).toBe("offboarded");
    const state = h.sim.tenant(tenantId);
    expect(calls(tenantId, "Remove-OutboundConnector")).toHaveLength(0);
    expect(calls(tenantId, "Remove-JournalRule")).toHaveLength(0);
    const pick = (c: (typeof state.connectors)[number]) => ({
      comment: c.comment,
      smartHosts: c.smartHosts,
      tlsSettings: c.tlsSettings,
      enabled: c.enabled,
      isValidated: c.isValidated,
    });
    expect(state.connectors.map(pick)).toEqual(before.connectors.map(pick));
    expect(state.journalRules).toEqual(before.journalRules);
    expect(state.journalingReportNdrTo).toBe(before.journalingReportNdrTo);
  });
});

describe("a connector that changes", () => {
  /** The customer's own connector of the service's name, to the provider's US domain. */
  const customerConnector = (tenantId: string, smartHosts: string[]) =>
    h.m365.tenant(tenantId).exchange.newOutboundConnector({
      name: AREA1.connectorName,
      comment: AREA1.connectorName,
      connectorType: "Partner",
      recipientDomains: ["journaling.mxrecord.io"],
      smartHosts,
      useMxRecord: false,
      tlsSettings: "CertificateValidation",
      enabled: true,
    });

  it("is marked unvalidated when onboarding corrects it, then validated again", async () => {
    const tenantId = randomUUID();
    const ex = h.m365.tenant(tenantId).exchange;
    await customerConnector(tenantId, ["mailstream-east.mxrecord.io"]);
    await ex.markConnectorValidated(
      AREA1.connectorName,
      ["someone@journaling.mxrecord.io"],
      new Date().toISOString(),
    );
    const req = h.request({ tenantId, region: "us", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const sets = calls(tenantId, "Set-OutboundConnector").map((c) => c.parameters);
    // Our correction (both smart hosts) withdraws the old verdict; the pass marks it again.
    expect(sets[1]).toMatchObject({ IsValidated: false, SmartHosts: expect.any(Array) });
    expect(sets[2]).toMatchObject({ IsValidated: true });
    expect(calls(tenantId, "Validate-OutboundConnector")).toHaveLength(1);
    expect(h.sim.tenant(tenantId).connectors[0]?.isValidated).toBe(true);
  });

  it("is unscoped from transport rules (the guide's 'only when sent to these domains'), and offboarding scopes it back", async () => {
    const tenantId = randomUUID();
    // The customer's own connector, right in every field but "Use of connector": only when a
    // transport rule redirects messages to it, so journal reports would not take it.
    await customerConnector(tenantId, [...AREA1.regions.us.smartHosts]);
    await h.sim.tamper(tenantId, {
      action: "set-connector",
      name: AREA1.connectorName,
      changes: { isTransportRuleScoped: true },
    });
    const req = h.request({ tenantId, region: "us", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    expect(calls(tenantId, "Set-OutboundConnector").map((c) => c.parameters)).toContainEqual(
      expect.objectContaining({ IsTransportRuleScoped: false }),
    );
    expect(h.sim.tenant(tenantId).connectors[0]).toMatchObject({
      isTransportRuleScoped: false,
      isValidated: true,
    });

    expect((await h.offboard(tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(tenantId).connectors[0]).toMatchObject({ isTransportRuleScoped: true });
  });
});

describe("group owners", () => {
  it("are sent as ManagedBy when the service creates the group", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const req = h.request({
      tenantId,
      region: "split",
      groups: {
        eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
        us: {
          name: "Journal US",
          primarySmtpAddress: `journal-us@${demo.domain}`,
          members: [demo.bob],
          owners: [demo.admin],
        },
      },
    });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const created = calls(tenantId, "New-DistributionGroup").map((c) => c.parameters);
    expect(created.find((p) => p?.Name === "Journal US")).toMatchObject({ ManagedBy: [demo.admin] });
    // Without owners, a member that may own the group does (an app cannot: test/exchange-corrections.test.ts).
    expect(created.find((p) => p?.Name === "Journal EU")).toMatchObject({ ManagedBy: [demo.alice] });
  });
});

describe("a dehydrated organisation", () => {
  it("is hydrated only when a write is refused, once, and the step waits (minutes, scaled) until Exchange applies it", async () => {
    const req = h.request({ region: "us" });
    h.sim.setDehydrated(req.tenantId, true);
    h.sim.configure({ hydrationDelayMs: 300 });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    expect(calls(req.tenantId, "Enable-OrganizationCustomization")).toHaveLength(1);
    const settings = step(tenant, "journal-settings")!;
    expect(settings.attempts).toBeGreaterThan(2);
    expect((await h.store.getTenant(req.tenantId))!.internals.customizationEnabledAt).toBeDefined();
  });

  it("is never customised proactively", async () => {
    const req = h.request({ region: "split", outboundGateway: true });
    expect((await h.onboard(req)).status).toBe("succeeded");
    expect(calls(req.tenantId, "Enable-OrganizationCustomization")).toHaveLength(0);
    expect(calls(req.tenantId, "Get-OrganizationConfig")).toHaveLength(0);
  });
});

describe("the NDR address policy", () => {
  const outcome = async (address: (demo: Demo) => string) => {
    const tenantId = randomUUID();
    const req = h.request({ tenantId, ndrAddress: address(h.sim.demo(tenantId)) });
    const tenant = await h.onboard(req);
    return { tenant, writes: okWrites(tenantId).length };
  };

  it.each([
    ["an external address", () => "journal-ndr@archive-vendor.example"],
    ["a mail contact", (d: Demo) => d.contact.address],
    ["a mail user", (d: Demo) => d.mailUser.address],
    ["a user named by a secondary address", (d: Demo) => d.carol.secondaryAddress],
  ])("accepts %s", async (_, address) => {
    const { tenant } = await outcome(address);
    expect(tenant.error).toBeUndefined();
    expect(tenant.status).toBe("succeeded");
  });

  it.each([
    ["a distribution group", (d: Demo) => d.group.address, /group or team/],
    ["a mail-enabled security group", (d: Demo) => d.securityGroup.address, /group or team/],
    ["a dynamic distribution group", (d: Demo) => d.dynamicGroup.address, /group or team/],
    ["a Microsoft 365 group (team)", (d: Demo) => d.team.address, /group or team/],
    ["a shared mailbox", (d: Demo) => d.shared.address, /SharedMailbox/],
    ["a typo in an accepted domain", (d: Demo) => `nobdy@${d.customDomain}`, /typo/],
  ])("refuses %s before any write", async (_, address, message) => {
    const { tenant, writes } = await outcome(address);
    expect(tenant.status).toBe("failed");
    expect(step(tenant, "check-access")?.error?.code).toBe("INVALID_NDR_ADDRESS");
    expect(step(tenant, "check-access")?.error?.message).toMatch(message);
    expect(writes).toBe(0);
  });

  it("refuses an address that one of the customer's journal rules journals, before any write", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const ex = h.m365.tenant(tenantId).exchange;
    // The customer's own archive rule journals alice; Exchange would refuse her as NDR address.
    await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
    await ex.newJournalRule({
      name: "Archive Alice",
      journalEmailAddress: "alice-archive@archive-vendor.example",
      scope: "Global",
      recipient: demo.alice,
      enabled: true,
    });
    const before = okWrites(tenantId).length;
    const req = h.request({ tenantId, region: "us", outboundGateway: true, ndrAddress: demo.alice });
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("failed");
    expect(step(tenant, "check-access")?.error?.code).toBe("INVALID_NDR_ADDRESS");
    expect(step(tenant, "check-access")?.error?.message).toMatch(/Archive Alice/);
    expect(okWrites(tenantId).length).toBe(before);
  });

  it("a removed NDR mailbox that JournalingReportNdrTo already names does not keep a run from re-enabling the rule", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const req = h.request({ tenantId, region: "us", ndrAddress: demo.mailUser.address });
    expect((await h.onboard(req)).status).toBe("succeeded");
    // Next week the customer's admin deletes the NDR mail user and disables the journal rule.
    h.sim.tamper(tenantId, { action: "remove-recipient", address: demo.mailUser.address });
    h.sim.tamper(tenantId, { action: "disable-journal-rule", name: AREA1.journalRuleName });
    // A run such as remediation's: nothing to write for the NDR address, so journaling comes back.
    const after = await h.rerun(tenantId);
    expect(after.status).toBe("succeeded");
    expect(h.sim.tenant(tenantId).journalRules[0]?.enabled).toBe(true);
    expect(calls(tenantId, "Set-TransportConfig")).toHaveLength(1);
  });

  it("refuses a group member that is no recipient, before any membership changes", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const req = h.request({
      tenantId,
      region: "split",
      groups: {
        eu: {
          name: demo.existingGroup.name,
          primarySmtpAddress: demo.existingGroup.address,
          members: [demo.alice, `nobody@${demo.customDomain}`],
        },
        us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
      },
    });
    const tenant = await h.onboard(req);
    // Found by check-access's reads, before any write (test/exchange-access.test.ts).
    expect(step(tenant, "check-access")?.error?.code).toBe("INVALID_GROUP_MEMBER");
    expect(step(tenant, "check-access")?.error?.message).toMatch(/nobody@/);
    expect(calls(tenantId, "Add-DistributionGroupMember")).toHaveLength(0);
  });
});

describe("many tenants at once under Exchange's limits", () => {
  it("20 tenants under the per-tenant concurrency limit and transient directory errors: all succeed, nothing twice", async () => {
    h.sim.configure({
      maxConcurrentPerTenant: 3,
      directoryErrorRate: 0.1,
      adminApiErrorRate: 0.03,
      seed: 11,
    });
    const modes: RegionMode[] = ["us", "eu", "split"];
    const reqs: OnboardingRequest[] = Array.from({ length: 20 }, (_, i) =>
      h.request({ region: modes[i % 3]!, outboundGateway: i % 2 === 0 }),
    );
    const tenants = await Promise.all(reqs.map((r) => h.onboard(r)));
    expect(tenants.map((t) => t.error?.message ?? t.status)).toEqual(reqs.map(() => "succeeded"));
    const all = reqs.flatMap((r) => h.sim.calls(r.tenantId));
    // Our own cap keeps each tenant within the limit: Exchange never had to refuse.
    expect(all.filter((c) => c.fault === "concurrency-limit")).toHaveLength(0);
    expect(all.filter((c) => c.fault === "directory-error").length).toBeGreaterThan(0);
    for (const r of reqs) {
      const s = h.sim.tenant(r.tenantId);
      expect(s.journalRules).toHaveLength(r.region === "split" ? 2 : 1);
      expect(s.connectors).toHaveLength(r.outboundGateway ? (r.region === "split" ? 2 : 1) : 0);
    }
  });

  it("recovers when Exchange's limit is lower than ours (refusals are throttling, retried)", async () => {
    h.sim.configure({ maxConcurrentPerTenant: 1, latencyMs: 5 });
    const reqs = Array.from({ length: 4 }, () => h.request({ region: "split", outboundGateway: true }));
    const tenants = await Promise.all(reqs.map((r) => h.onboard(r)));
    expect(tenants.map((t) => t.error ?? t.status)).toEqual(reqs.map(() => "succeeded"));
    const refusals = reqs
      .flatMap((r) => h.sim.calls(r.tenantId))
      .filter((c) => c.fault === "concurrency-limit");
    expect(refusals.length).toBeGreaterThan(0);
    h.sim.configure({ latencyMs: 0 });
    // Each refusal's Retry-After (1 s, real time: Exchange's) is written on the tenant's Exchange
    // lease and waited out by every request of that tenant, and narrows the tenant's requests in
    // flight: a few seconds (40-75 s, and one tenant in three failed, when every wave sent three).
  }, 150_000);
});

describe("every mode and offboarding with all real-world behaviours on", () => {
  it.each([
    ["us", false],
    ["us", true],
    ["eu", false],
    ["eu", true],
    ["split", false],
    ["split", true],
  ] as const)("%s, outboundGateway=%s", async (region, outboundGateway) => {
    h.sim.configure({
      replicationLagCalls: 1,
      slowCmdlets: {
        "Validate-OutboundConnector": 40,
        "Enable-OrganizationCustomization": 40,
        "New-DistributionGroup": 20,
      },
      // Exchange's limit as our own cap: a lower one answers 429 with a real-time Retry-After of
      // 1 s, while the workflow's retries here are scaled to milliseconds (a dehydrated tenant's
      // steps would spend their scaled hour before the cmdlet is sent again).
      maxConcurrentPerTenant: 3,
      directoryErrorRate: 0.05,
      adminApiErrorRate: 0.02,
      ndrClearing: "never",
      hydrationDelayMs: 150,
      seed: 7,
    });
    const req = h.request({ region, outboundGateway });
    h.sim.setDehydrated(req.tenantId, true);
    const tenant = await h.onboard(req);
    expect(tenant.error).toBeUndefined();
    expect(tenant.status).toBe("succeeded");
    const after = await h.offboard(req.tenantId);
    expect(after.error).toBeUndefined();
    expect(after.status).toBe("offboarded");
    expect(after.ndrAddressKept).toBe(true);
    const state = h.sim.tenant(req.tenantId);
    expect(state.connectors).toEqual([]);
    expect(state.journalRules).toEqual([]);
    expect(state.groups.filter((g) => !g.seeded)).toEqual([]);
  });
});
