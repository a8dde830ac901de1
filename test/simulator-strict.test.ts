/**
 * The simulator's Exchange, never more lenient than Exchange: filters Exchange applies by
 * default on Get-* and the defaults and limits of New-* (docs/m365-fidelity.md, the rows named in
 * each case). Every test fails if its rule is removed.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { failure, suiteSimulator } from "./support/exo.ts";

const { exo, sim } = suiteSimulator();

const NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const TEST_MODE_WARNING =
  "There is at least one test mode connector which is not included in the result. Please use -IncludeTestModeConnectors to view test mode connectors.";

const connector = (name: string) => ({
  Name: name,
  ConnectorType: "Partner",
  RecipientDomains: ["journaling.mxrecord.io"],
  SmartHosts: ["mailstream-east.mxrecord.io"],
  UseMXRecord: false,
  TlsSettings: "CertificateValidation",
});
const names = (a: { body: { value?: Record<string, unknown>[] } }) => (a.body.value ?? []).map((r) => r.Name);

describe("Get-OutboundConnector and test mode (O1)", () => {
  it("leaves test-mode connectors out unless -IncludeTestModeConnectors $true, which lists only them, and warns", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "New-OutboundConnector", connector("live"))).status).toBe(200);
    const created = await exo(tenantId, "New-OutboundConnector", { ...connector("trial"), TestMode: true });
    expect([created.status, created.body.value?.[0]?.TestMode]).toEqual([200, true]);

    const plain = await exo(tenantId, "Get-OutboundConnector");
    expect(names(plain)).toEqual(["live"]);
    expect(plain.body["@adminapi.warnings"]).toEqual([TEST_MODE_WARNING]);
    const excluded = await exo(tenantId, "Get-OutboundConnector", { IncludeTestModeConnectors: false });
    expect([names(excluded), excluded.body["@adminapi.warnings"]]).toEqual([["live"], [TEST_MODE_WARNING]]);
    const only = await exo(tenantId, "Get-OutboundConnector", { IncludeTestModeConnectors: true });
    expect([names(only), only.body["@adminapi.warnings"] ?? []]).toEqual([["trial"], []]);
  });

  it("by -Identity too: a test-mode connector is found only with -IncludeTestModeConnectors $true", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "New-OutboundConnector", connector("live"))).status).toBe(200);
    expect((await exo(tenantId, "New-OutboundConnector", connector("trial"))).status).toBe(200);
    expect((await exo(tenantId, "Set-OutboundConnector", { Identity: "trial", TestMode: true })).status).toBe(
      200,
    );
    expect(failure(await exo(tenantId, "Get-OutboundConnector", { Identity: "trial" }))).toEqual([
      404,
      NOT_FOUND,
    ]);
    const asked = await exo(tenantId, "Get-OutboundConnector", {
      Identity: "trial",
      IncludeTestModeConnectors: true,
    });
    expect([asked.status, names(asked)]).toEqual([200, ["trial"]]);
    expect(
      failure(
        await exo(tenantId, "Get-OutboundConnector", { Identity: "live", IncludeTestModeConnectors: true }),
      ),
    ).toEqual([404, NOT_FOUND]);
    // Still there for the other cmdlets: the name is taken, and Set finds it.
    expect(failure(await exo(tenantId, "New-OutboundConnector", connector("trial")))[0]).toBe(400);
    expect(
      (await exo(tenantId, "Set-OutboundConnector", { Identity: "trial", TestMode: false })).status,
    ).toBe(200);
    expect(names(await exo(tenantId, "Get-OutboundConnector", { Identity: "trial" }))).toEqual(["trial"]);
  });

  it("-IsTransportRuleScoped, when given, lists only connectors scoped that way", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "New-OutboundConnector", connector("by-domain"))).status).toBe(200);
    expect(
      (await exo(tenantId, "New-OutboundConnector", { ...connector("by-rule"), IsTransportRuleScoped: true }))
        .status,
    ).toBe(200);
    expect(names(await exo(tenantId, "Get-OutboundConnector")).sort()).toEqual(["by-domain", "by-rule"]);
    expect(names(await exo(tenantId, "Get-OutboundConnector", { IsTransportRuleScoped: true }))).toEqual([
      "by-rule",
    ]);
    expect(names(await exo(tenantId, "Get-OutboundConnector", { IsTransportRuleScoped: false }))).toEqual([
      "by-domain",
    ]);
  });
});

describe("New-DistributionGroup's defaults and allowed values (G1)", () => {
  const group = (tenantId: string, name: string, extra: Record<string, unknown> = {}) =>
    exo(tenantId, "New-DistributionGroup", {
      Name: name,
      PrimarySmtpAddress: `${name}@${sim().demo(tenantId).domain}`,
      ...extra,
    });

  it("a distribution group: join Closed, depart Open, only authenticated senders; security: depart Closed", async () => {
    const tenantId = randomUUID();
    const made = await group(tenantId, "dl");
    expect(made.body.value?.[0]).toMatchObject({
      MemberJoinRestriction: "Closed",
      MemberDepartRestriction: "Open",
      RequireSenderAuthenticationEnabled: true,
      HiddenFromAddressListsEnabled: false,
    });
    const read = await exo(tenantId, "Get-DistributionGroup", { Identity: "dl" });
    expect(read.body.value?.[0]).toMatchObject({ MemberDepartRestriction: "Open" });
    const security = await group(tenantId, "sg", { Type: "Security" });
    expect(security.body.value?.[0]).toMatchObject({
      MemberJoinRestriction: "Closed",
      MemberDepartRestriction: "Closed",
    });
  });

  it("keeps what it is given, and refuses values Exchange does not take", async () => {
    const tenantId = randomUUID();
    const given = await group(tenantId, "open", {
      MemberJoinRestriction: "ApprovalRequired",
      MemberDepartRestriction: "Closed",
      RequireSenderAuthenticationEnabled: false,
    });
    expect(given.body.value?.[0]).toMatchObject({
      MemberJoinRestriction: "ApprovalRequired",
      MemberDepartRestriction: "Closed",
      RequireSenderAuthenticationEnabled: false,
    });
    for (const [i, extra] of [
      { MemberJoinRestriction: "Anyone" },
      { MemberDepartRestriction: "ApprovalRequired" },
      { Type: "Security", MemberDepartRestriction: "Open" },
      { Type: "Security", MemberJoinRestriction: "Open" },
      { RequireSenderAuthenticationEnabled: "maybe" },
    ].entries()) {
      const refused = await group(tenantId, `bad${i}`, extra);
      expect([extra, refused.status]).toEqual([extra, 400]);
    }
    const made = (await exo(tenantId, "Get-DistributionGroup")).body.value?.map((g) => String(g.Name));
    expect(made?.filter((n) => n.startsWith("bad"))).toEqual([]);
  });
});

describe("New-DistributionGroup's Alias (G1)", () => {
  const DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException";

  it("refuses a given alias with characters Exchange does not take; from the name, spaces go and others become ?", async () => {
    const tenantId = randomUUID();
    const domain = sim().demo(tenantId).domain;
    for (const [i, alias] of [
      "journal eu",
      "journal@eu",
      ".journal",
      "journal..eu",
      "journal.",
      "a(b)",
    ].entries()) {
      const refused = await exo(tenantId, "New-DistributionGroup", {
        Name: `bad${i}`,
        Alias: alias,
        PrimarySmtpAddress: `bad${i}@${domain}`,
      });
      expect([alias, ...failure(refused)]).toEqual([alias, 400, DATA_VALIDATION]);
    }
    const taken = await exo(tenantId, "New-DistributionGroup", {
      Name: "ok",
      Alias: "journal.eu_1-x",
      PrimarySmtpAddress: `ok@${domain}`,
    });
    expect(taken.body.value?.[0]).toMatchObject({ Alias: "journal.eu_1-x" });
    const derived = await exo(tenantId, "New-DistributionGroup", {
      Name: "Journal (EU) list",
      PrimarySmtpAddress: `derived@${domain}`,
    });
    expect(derived.body.value?.[0]).toMatchObject({ Alias: "Journal?EU?list" });
  });
});

describe("New-/Set-OutboundConnector parameters (O2)", () => {
  const BINDING = "System.Management.Automation.ParameterBindingException";

  it("MtaStsMode and SmtpDaneMode: Opportunistic by default, only their documented values", async () => {
    const tenantId = randomUUID();
    const made = await exo(tenantId, "New-OutboundConnector", connector("c"));
    expect(made.body.value?.[0]).toMatchObject({
      MtaStsMode: "Opportunistic",
      SmtpDaneMode: "Opportunistic",
    });
    const set = await exo(tenantId, "Set-OutboundConnector", {
      Identity: "c",
      MtaStsMode: "None",
      SmtpDaneMode: "Mandatory",
    });
    expect(set.status).toBe(200);
    expect((await exo(tenantId, "Get-OutboundConnector", { Identity: "c" })).body.value?.[0]).toMatchObject({
      MtaStsMode: "None",
      SmtpDaneMode: "Mandatory",
    });
    for (const [i, extra] of [
      { MtaStsMode: "Mandatory" },
      { MtaStsMode: "Enforce" },
      { SmtpDaneMode: "Always" },
    ].entries()) {
      const refused = await exo(tenantId, "New-OutboundConnector", { ...connector(`bad${i}`), ...extra });
      expect([extra, ...failure(refused)]).toEqual([extra, 400, BINDING]);
    }
  });

  it("LinkForModifiedConnector is New-OutboundConnector's only: Set refuses it", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "New-OutboundConnector", connector("c"))).status).toBe(200);
    const refused = await exo(tenantId, "Set-OutboundConnector", {
      Identity: "c",
      LinkForModifiedConnector: randomUUID(),
    });
    expect(failure(refused)).toEqual([400, BINDING]);
  });
});

describe("Set-TransportConfig's other parameters (C2)", () => {
  it("JournalMessageExpirationDays 0 to 7 (shown, 0 by default), MaxRecipientEnvelopeLimit up to 1000 or Unlimited, booleans", async () => {
    const tenantId = randomUUID();
    const read = async () => (await exo(tenantId, "Get-TransportConfig")).body.value?.[0];
    expect(await read()).toMatchObject({ JournalMessageExpirationDays: 0 });
    for (const ok of [
      { JournalMessageExpirationDays: 7 },
      { MaxRecipientEnvelopeLimit: 1000 },
      { MaxRecipientEnvelopeLimit: "Unlimited" },
      { ReplyAllStormProtectionEnabled: true },
    ]) {
      expect([ok, (await exo(tenantId, "Set-TransportConfig", ok)).status]).toEqual([ok, 200]);
    }
    expect(await read()).toMatchObject({ JournalMessageExpirationDays: 7 });
    for (const bad of [
      { JournalMessageExpirationDays: 8 },
      { JournalMessageExpirationDays: -1 },
      { JournalMessageExpirationDays: 1.5 },
      { MaxRecipientEnvelopeLimit: 1001 },
      { MaxRecipientEnvelopeLimit: "lots" },
      { ReplyAllStormProtectionEnabled: "sometimes" },
    ]) {
      expect([bad, (await exo(tenantId, "Set-TransportConfig", bad)).status]).toEqual([bad, 400]);
    }
    // A call refused for one value sets none of the others.
    const mixed = { JournalMessageExpirationDays: 3, JournalingReportNdrTo: "not an address" };
    expect((await exo(tenantId, "Set-TransportConfig", mixed)).status).toBe(400);
    expect(await read()).toMatchObject({ JournalMessageExpirationDays: 7 });
  });
});

describe("parameters a cmdlet does not have are refused, as PowerShell's binder refuses them", () => {
  const BINDING = "System.Management.Automation.ParameterBindingException";

  it("Get-OrganizationConfig -Identity, Get-Recipient -PropertySets, Get-DistributionGroup -IncludeReject…", async () => {
    const tenantId = randomUUID();
    for (const [cmdlet, parameters] of [
      ["Get-OrganizationConfig", { Identity: "contoso" }],
      ["Get-Recipient", { PropertySets: "Minimum" }],
      ["Get-DistributionGroup", { IncludeRejectMessagesFromWithDisplayNames: true }],
    ] as const) {
      expect([cmdlet, ...failure(await exo(tenantId, cmdlet, parameters))]).toEqual([cmdlet, 400, BINDING]);
    }
    expect((await exo(tenantId, "Get-Recipient", { PropertySet: "Minimum", ResultSize: 1 })).status).toBe(
      200,
    );
    expect((await exo(tenantId, "Get-OrganizationConfig")).status).toBe(200);
  });
});

describe("Get-DistributionGroup -RecipientTypeDetails (G3)", () => {
  it("lists only the group subtypes asked for, and refuses other values", async () => {
    const tenantId = randomUUID();
    const domain = sim().demo(tenantId).domain;
    for (const [name, type] of [
      ["dl", "Distribution"],
      ["sg", "Security"],
    ]) {
      const made = await exo(tenantId, "New-DistributionGroup", {
        Name: name,
        Type: type,
        PrimarySmtpAddress: `${name}@${domain}`,
      });
      expect(made.status).toBe(200);
    }
    const security = await exo(tenantId, "Get-DistributionGroup", {
      RecipientTypeDetails: ["MailUniversalSecurityGroup"],
    });
    expect(security.body.value?.map((g) => g.RecipientTypeDetails)).toEqual(
      security.body.value?.map(() => "MailUniversalSecurityGroup"),
    );
    expect(security.body.value?.map((g) => g.Name)).toContain("sg");
    expect(security.body.value?.map((g) => g.Name)).not.toContain("dl");
    const refused = await exo(tenantId, "Get-DistributionGroup", { RecipientTypeDetails: ["UserMailbox"] });
    expect(failure(refused)).toEqual([400, "System.Management.Automation.ParameterBindingException"]);
  });
});
