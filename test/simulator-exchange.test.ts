/**
 * The simulator's Exchange rules, each as strict as Exchange, over HTTPS: parameter binding,
 * connectors and their validation, JournalingReportNdrTo, journal rules, recipients and
 * groups, dehydration. Every test fails if its rule is removed.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { errorText, errorType, exoClient, failure } from "./support/exo.ts";

let sim: Simulator;
const { exo } = exoClient(() => sim);

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});
afterEach(() => {
  sim.configure({
    ndrClearing: "while-no-rules",
    hydrationDelayMs: 0,
    maxJournalRules: 50,
    validation: { lag: 0, fail: false, refuseHosts: [] },
  });
});

const NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const BINDING = "System.Management.Automation.ParameterBindingException";
const INVALID_OPERATION = "System.InvalidOperationException";
const DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException";

const connector = {
  Name: "Journal to Area 1",
  Comment: "journal",
  ConnectorType: "Partner",
  RecipientDomains: ["journaling.mxrecord.io"],
  SmartHosts: ["mailstream-east.mxrecord.io"],
  UseMXRecord: false,
  TlsSettings: "CertificateValidation",
  Enabled: true,
};

async function withNdr(tenantId: string): Promise<void> {
  expect(
    (await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin })).status,
  ).toBe(200);
}

describe("parameter binding", () => {
  /** Exactly what the adapter sends, per cmdlet (the brief's list). */
  const ADAPTER_PARAMETERS: Record<string, string[]> = {
    "Get-OutboundConnector": ["Identity"],
    "New-OutboundConnector": [
      "Name",
      "Comment",
      "ConnectorType",
      "RecipientDomains",
      "SmartHosts",
      "UseMXRecord",
      "TlsSettings",
      "TlsDomain",
      "Enabled",
      "IsTransportRuleScoped",
      "SenderRewritingEnabled",
      "AllAcceptedDomains",
      "CloudServicesMailEnabled",
      "RouteAllMessagesViaOnPremises",
      "TestMode",
    ],
    "Set-OutboundConnector": [
      "Identity",
      "Name",
      "Comment",
      "ConnectorType",
      "RecipientDomains",
      "SmartHosts",
      "UseMXRecord",
      "TlsSettings",
      "TlsDomain",
      "Enabled",
      "IsTransportRuleScoped",
      "SenderRewritingEnabled",
      "AllAcceptedDomains",
      "CloudServicesMailEnabled",
      "RouteAllMessagesViaOnPremises",
      "TestMode",
      "IsValidated",
      "LastValidationTimestamp",
      "ValidationRecipients",
    ],
    "Remove-OutboundConnector": ["Identity", "Confirm"],
    "Validate-OutboundConnector": ["Identity", "Recipients"],
    "Get-TransportConfig": [],
    "Set-TransportConfig": ["JournalingReportNdrTo"],
    "Get-Recipient": ["Identity", "ResultSize", "RecipientTypeDetails", "Filter"],
    "Get-AcceptedDomain": ["Identity"],
    "Get-JournalRule": ["Identity"],
    "New-JournalRule": ["Name", "JournalEmailAddress", "Scope", "Recipient", "Enabled"],
    "Set-JournalRule": ["Identity", "Name", "JournalEmailAddress", "Scope", "Recipient"],
    "Enable-JournalRule": ["Identity"],
    "Disable-JournalRule": ["Identity", "Confirm"],
    "Remove-JournalRule": ["Identity", "Confirm"],
    "Get-DistributionGroup": ["Identity", "ResultSize"],
    "New-DistributionGroup": [
      "Name",
      "DisplayName",
      "Alias",
      "PrimarySmtpAddress",
      "Type",
      "Members",
      "ManagedBy",
    ],
    "Remove-DistributionGroup": ["Identity", "BypassSecurityGroupManagerCheck", "Confirm"],
    "Get-DistributionGroupMember": ["Identity", "ResultSize"],
    "Add-DistributionGroupMember": ["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    "Remove-DistributionGroupMember": ["Identity", "Member", "BypassSecurityGroupManagerCheck", "Confirm"],
    "Get-OrganizationConfig": [],
    "Enable-OrganizationCustomization": [],
  };

  it("declares every parameter the adapter sends (none refused as unknown)", async () => {
    const tenantId = randomUUID();
    for (const [cmdlet, names] of Object.entries(ADAPTER_PARAMETERS)) {
      const params = Object.fromEntries(names.map((n) => [n, n === "Confirm" ? false : "x"]));
      const a = await exo(tenantId, cmdlet, params);
      expect([cmdlet, errorText(a) ?? ""]).not.toEqual([
        cmdlet,
        expect.stringMatching(/parameter cannot be found/),
      ]);
    }
  });

  it("refuses an unknown parameter as PowerShell does, on every cmdlet", async () => {
    const tenantId = randomUUID();
    for (const cmdlet of Object.keys(ADAPTER_PARAMETERS)) {
      const a = await exo(tenantId, cmdlet, { Bogus: 1 });
      expect([cmdlet, a.status, errorType(a), errorText(a)]).toEqual([
        cmdlet,
        400,
        BINDING,
        "A parameter cannot be found that matches parameter name 'Bogus'.",
      ]);
    }
  });

  it("refuses the parameters a cmdlet lacks: Set-JournalRule -Enabled, New-OutboundConnector -ValidationRecipients, Get -Confirm", async () => {
    const tenantId = randomUUID();
    await withNdr(tenantId);
    await exo(tenantId, "New-JournalRule", { Name: "r", JournalEmailAddress: "j@vault.example" });
    const enabled = await exo(tenantId, "Set-JournalRule", { Identity: "r", Enabled: true });
    expect(errorText(enabled)).toBe("A parameter cannot be found that matches parameter name 'Enabled'.");
    const recipients = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      ValidationRecipients: ["a@b.c"],
    });
    expect(errorText(recipients)).toMatch(/parameter name 'ValidationRecipients'/);
    const confirm = await exo(tenantId, "Get-TransportConfig", { Confirm: false });
    expect(errorText(confirm)).toMatch(/parameter name 'Confirm'/);
  });

  it("accepts common parameters on every cmdlet, and -WhatIf changes nothing", async () => {
    const tenantId = randomUUID();
    const common = { ErrorAction: "Stop", WarningAction: "SilentlyContinue", Verbose: false, Debug: false };
    expect((await exo(tenantId, "Get-TransportConfig", common)).status).toBe(200);
    expect((await exo(tenantId, "Get-Recipient", { ...common, ResultSize: "Unlimited" })).status).toBe(200);
    const whatIf = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      WhatIf: true,
      Confirm: false,
    });
    expect(whatIf.status).toBe(200);
    expect(sim.tenant(tenantId).connectors).toEqual([]);
  });

  it("binds names case-insensitively and refuses the same parameter twice", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "Get-Recipient", { identity: sim.demo(tenantId).alice })).status).toBe(200);
    const twice = await exo(tenantId, "Get-Recipient", { Identity: "alice", IDENTITY: "bob" });
    expect(failure(twice)).toEqual([400, BINDING]);
  });
});

describe("outbound connectors", () => {
  it("RecipientDomains: a domain, *.domain or *; no embedded wildcard", async () => {
    const tenantId = randomUUID();
    for (const [i, domains] of [["*"], ["*.contoso.com"], ["contoso.com", "fabrikam.net"]].entries()) {
      const a = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `ok${i}`,
        RecipientDomains: domains,
      });
      expect([domains, a.status]).toEqual([domains, 200]);
    }
    for (const [i, domain] of ["domain.*.contoso.com", "*contoso.com", "contoso.*", "*.*"].entries()) {
      const a = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `bad${i}`,
        RecipientDomains: [domain],
      });
      expect([domain, ...failure(a)]).toEqual([domain, 400, DATA_VALIDATION]);
    }
  });

  it("SmartHosts: FQDN, IPv4 or IPv4 CIDR; no wildcard, IPv6 or port", async () => {
    const tenantId = randomUUID();
    for (const [i, host] of ["smtp.vault.example", "192.0.2.10", "192.0.2.0/25"].entries()) {
      const a = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `ok${i}`,
        SmartHosts: [host],
      });
      expect([host, a.status]).toEqual([host, 200]);
    }
    for (const [i, host] of [
      "*.vault.example",
      "2001:db8::25",
      "smtp.vault.example:25",
      "[192.0.2.10]",
      "300.1.1.1",
    ].entries()) {
      const a = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `bad${i}`,
        SmartHosts: [host],
      });
      expect([host, ...failure(a)]).toEqual([host, 400, DATA_VALIDATION]);
    }
  });

  it("TlsDomain only with, and always with, TlsSettings DomainValidation", async () => {
    const tenantId = randomUUID();
    const without = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      TlsSettings: "DomainValidation",
    });
    expect([...failure(without), errorText(without)]).toEqual([
      400,
      DATA_VALIDATION,
      expect.stringMatching(/TlsDomain must be specified/),
    ]);
    const wrong = await exo(tenantId, "New-OutboundConnector", { ...connector, TlsDomain: "*.mxrecord.io" });
    expect(errorText(wrong)).toMatch(
      /TlsDomain can be specified only when TlsSettings is set to DomainValidation/,
    );
    const ok = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      TlsSettings: "DomainValidation",
      TlsDomain: "*.mxrecord.io",
    });
    expect(ok.body.value?.[0]).toMatchObject({ TlsSettings: "DomainValidation", TlsDomain: "*.mxrecord.io" });
    // Dropping DomainValidation later keeps the pair consistent.
    const set = await exo(tenantId, "Set-OutboundConnector", {
      Identity: connector.Name,
      TlsSettings: "EncryptionOnly",
    });
    expect(errorText(set)).toMatch(/only when TlsSettings is set to DomainValidation/);
  });

  it("SenderRewritingEnabled, AllAcceptedDomains and RouteAllMessagesViaOnPremises only on OnPremises connectors", async () => {
    const tenantId = randomUUID();
    for (const flag of ["SenderRewritingEnabled", "AllAcceptedDomains", "RouteAllMessagesViaOnPremises"]) {
      const partner = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `p-${flag}`,
        [flag]: true,
      });
      expect([flag, errorText(partner)]).toEqual([
        flag,
        expect.stringMatching(/only when ConnectorType is OnPremises/),
      ]);
      const onPremises = await exo(tenantId, "New-OutboundConnector", {
        ...connector,
        Name: `o-${flag}`,
        ConnectorType: "OnPremises",
        [flag]: true,
      });
      expect([flag, onPremises.status]).toEqual([flag, 200]);
    }
  });

  it("a transport-rule-scoped Partner connector needs no RecipientDomains; an unscoped one does", async () => {
    const tenantId = randomUUID();
    const unscoped = await exo(tenantId, "New-OutboundConnector", { ...connector, RecipientDomains: null });
    expect(errorText(unscoped)).toMatch(/must have RecipientDomains/);
    const scoped = await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      RecipientDomains: null,
      IsTransportRuleScoped: true,
    });
    expect(scoped.body.value?.[0]).toMatchObject({ IsTransportRuleScoped: true, RecipientDomains: null });
  });

  it("UseMXRecord $true with SmartHosts is refused", async () => {
    const tenantId = randomUUID();
    const a = await exo(tenantId, "New-OutboundConnector", { ...connector, UseMXRecord: true });
    expect(errorText(a)).toMatch(/SmartHosts can't be specified when UseMXRecord is set to true/);
  });

  it("Set-OutboundConnector sets IsValidated, LastValidationTimestamp and ValidationRecipients, and keeps them on other changes", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", connector);
    const at = "2026-05-06T14:30:00.000Z";
    const set = await exo(tenantId, "Set-OutboundConnector", {
      Identity: connector.Name,
      IsValidated: true,
      LastValidationTimestamp: at,
      ValidationRecipients: ["probe@journaling.mxrecord.io"],
    });
    expect(set.status).toBe(200);
    await exo(tenantId, "Set-OutboundConnector", { Identity: connector.Name, Comment: "changed" });
    const [row] =
      (await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name })).body.value ?? [];
    expect(row).toMatchObject({
      Comment: "changed",
      IsValidated: true,
      LastValidationTimestamp: at,
      ValidationRecipients: ["probe@journaling.mxrecord.io"],
    });
    const bad = await exo(tenantId, "Set-OutboundConnector", {
      Identity: connector.Name,
      LastValidationTimestamp: "soon",
    });
    expect(failure(bad)).toEqual([400, BINDING]);
  });
});

describe("Validate-OutboundConnector", () => {
  const recipients = ["probe@journaling.mxrecord.io"];

  it("answers one row per task (TaskName, IsTaskSuccessful, Error) and does not mark the connector validated", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", connector);
    const a = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: recipients,
    });
    expect(a.status).toBe(200);
    expect(a.body.value).toEqual([
      { TaskName: expect.any(String), IsTaskSuccessful: true, Error: null },
      { TaskName: expect.any(String), IsTaskSuccessful: true, Error: null },
    ]);
    const [row] =
      (await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name })).body.value ?? [];
    expect(row).toMatchObject({
      IsValidated: false,
      LastValidationTimestamp: null,
      ValidationRecipients: null,
    });
  });

  it("refuses recipients outside the connector's RecipientDomains (wildcards cover subdomains)", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", { ...connector, RecipientDomains: ["*.mxrecord.io"] });
    const inside = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: ["a@journaling.mxrecord.io"],
    });
    expect(inside.status).toBe(200);
    const outside = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: ["a@journaling.mxrecord.io", "b@elsewhere.example"],
    });
    expect([outside.status, errorText(outside)]).toEqual([
      400,
      expect.stringMatching(/b@elsewhere\.example/),
    ]);
  });

  it("fails the tasks of a disabled connector, naming the host", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", { ...connector, Enabled: false });
    const a = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: recipients,
    });
    expect(a.body.value?.map((t) => t.IsTaskSuccessful)).toEqual([false, false]);
    expect(String(a.body.value?.[0]?.Error)).toMatch(/mailstream-east\.mxrecord\.io/);
  });

  it("fails the tasks when a smart host refuses (validation.refuseHosts), naming it", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "New-OutboundConnector", {
      ...connector,
      SmartHosts: ["mailstream-east.mxrecord.io", "mailstream-west.mxrecord.io"],
    });
    sim.configure({ validation: { refuseHosts: ["MAILSTREAM-WEST.mxrecord.io"] } });
    const a = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: recipients,
    });
    expect(a.body.value?.map((t) => t.IsTaskSuccessful)).toEqual([false, false]);
    expect(String(a.body.value?.[0]?.Error)).toMatch(/mailstream-west\.mxrecord\.io/);
    expect(String(a.body.value?.[0]?.Error)).not.toMatch(/mailstream-east/);
  });

  it("keeps the validation lag: the first validations after creation fail their test message", async () => {
    const tenantId = randomUUID();
    sim.configure({ validation: { lag: 1 } });
    await exo(tenantId, "New-OutboundConnector", connector);
    const first = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: recipients,
    });
    expect(first.body.value?.map((t) => t.IsTaskSuccessful)).toEqual([true, false]);
    const second = await exo(tenantId, "Validate-OutboundConnector", {
      Identity: connector.Name,
      Recipients: recipients,
    });
    expect(second.body.value?.map((t) => t.IsTaskSuccessful)).toEqual([true, true]);
  });
});

describe("Set-TransportConfig -JournalingReportNdrTo", () => {
  it("refuses groups and teams of every kind", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    for (const group of [d.group.address, d.team.address, d.securityGroup.address, d.dynamicGroup.address]) {
      const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: group });
      expect([group, ...failure(a)]).toEqual([group, 400, INVALID_OPERATION]);
    }
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
  });

  it("an unknown address in an accepted domain is not found; external, contact, mail user and mailboxes are accepted", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    for (const domain of d.acceptedDomains) {
      const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: `nobody@${domain}` });
      expect([domain, ...failure(a)]).toEqual([domain, 404, NOT_FOUND]);
    }
    for (const address of [
      "ndr@vault-provider.example",
      "someone@gmail.com",
      d.contact.address,
      d.mailUser.address,
      d.shared.address,
      d.carol.secondaryAddress,
      d.admin,
    ]) {
      const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: address });
      expect([address, a.status]).toEqual([address, 200]);
      expect(sim.tenant(tenantId).journalingReportNdrTo).toBe(address);
    }
  });

  it("refuses the address a journal rule journals (its Recipient), with InvalidOperationException", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: d.admin });
    const rule = await exo(tenantId, "New-JournalRule", {
      Name: "r",
      JournalEmailAddress: "j@vault.example",
      Recipient: d.alice,
    });
    expect(rule.status).toBe(200);
    const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: d.alice.toUpperCase() });
    expect([...failure(a), errorText(a)]).toEqual([
      400,
      INVALID_OPERATION,
      expect.stringMatching(/journal rule/),
    ]);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBe(d.admin);
    // The journal rule's own JournalEmailAddress is only a warning in Exchange: accepted.
    expect(
      (await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: "j@vault.example" })).status,
    ).toBe(200);
  });

  it("ndrClearing while-no-rules (default): cleared without journal rules, refused with them", async () => {
    const tenantId = randomUUID();
    expect(sim.config().ndrClearing).toBe("while-no-rules");
    await withNdr(tenantId);
    expect((await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: null })).status).toBe(200);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
    await withNdr(tenantId);
    await exo(tenantId, "New-JournalRule", { Name: "r", JournalEmailAddress: "j@vault.example" });
    for (const value of [null, ""]) {
      const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: value });
      expect([...failure(a), errorText(a)]).toEqual([
        400,
        INVALID_OPERATION,
        expect.stringMatching(
          /^Before you create a journal rule, you must specify an email account to receive/,
        ),
      ]);
    }
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBe(sim.demo(tenantId).admin);
  });

  it("ndrClearing allowed: cleared even with journal rules", async () => {
    const tenantId = randomUUID();
    sim.configure({ ndrClearing: "allowed" });
    await withNdr(tenantId);
    await exo(tenantId, "New-JournalRule", { Name: "r", JournalEmailAddress: "j@vault.example" });
    expect((await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: null })).status).toBe(200);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
  });

  it("ndrClearing never: refused once set, even without journal rules", async () => {
    const tenantId = randomUUID();
    sim.configure({ ndrClearing: "never" });
    await withNdr(tenantId);
    const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: null });
    expect([...failure(a), errorText(a)]).toEqual([
      400,
      INVALID_OPERATION,
      expect.stringMatching(/can't be removed/),
    ]);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBe(sim.demo(tenantId).admin);
  });
});

describe("journal rules", () => {
  it("refuses New-JournalRule until JournalingReportNdrTo is set (InvalidOperationException)", async () => {
    const tenantId = randomUUID();
    const a = await exo(tenantId, "New-JournalRule", { Name: "r", JournalEmailAddress: "j@vault.example" });
    expect([...failure(a), errorText(a)]).toEqual([
      400,
      INVALID_OPERATION,
      expect.stringMatching(
        /^Before you create a journal rule, you must specify an email account to receive/,
      ),
    ]);
  });

  it("JournalEmailAddress: external, mail user or mail contact; never a mailbox, a group or consumer webmail", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    await withNdr(tenantId);
    let n = 0;
    const rule = (address: string) =>
      exo(tenantId, "New-JournalRule", { Name: `r${n++}`, JournalEmailAddress: address });
    for (const refused of [
      d.alice,
      d.shared.address,
      d.carol.secondaryAddress,
      d.group.address,
      d.team.address,
      d.securityGroup.address,
      "me@outlook.com",
      "me@gmail.com",
    ]) {
      const a = await rule(refused);
      expect([refused, ...failure(a), errorText(a)]).toEqual([
        refused,
        400,
        INVALID_OPERATION,
        expect.stringMatching(
          /^The JournalEmailAddress can only be a mail user, a mail contact or an external address/,
        ),
      ]);
    }
    for (const domain of d.acceptedDomains)
      expect(failure(await rule(`ghost@${domain}`))).toEqual([404, NOT_FOUND]);
    for (const accepted of ["journal@vault-provider.example", d.contact.address, d.mailUser.address]) {
      const a = await rule(accepted);
      expect([accepted, a.status, a.body.value?.[0]?.JournalEmailAddress]).toEqual([accepted, 200, accepted]);
    }
    const set = await exo(tenantId, "Set-JournalRule", { Identity: `r${n - 1}`, JournalEmailAddress: d.bob });
    expect(errorType(set)).toBe(INVALID_OPERATION);
  });

  it("Get/Set/Enable/Remove-JournalRule -Identity take the name or the Guid; a rename keeps the Guid, a name in use is refused", async () => {
    const tenantId = randomUUID();
    await withNdr(tenantId);
    const made = await exo(tenantId, "New-JournalRule", {
      Name: "Ours",
      JournalEmailAddress: "j@vault.example",
    });
    const guid = made.body.value?.[0]?.Guid as string;
    expect(guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await exo(tenantId, "New-JournalRule", { Name: "Theirs", JournalEmailAddress: "j@vault.example" });
    expect((await exo(tenantId, "Get-JournalRule", { Identity: guid })).body.value?.[0]).toMatchObject({
      Name: "Ours",
      Guid: guid,
    });
    expect((await exo(tenantId, "Set-JournalRule", { Identity: guid, Name: "Renamed" })).status).toBe(200);
    expect(failure(await exo(tenantId, "Get-JournalRule", { Identity: "Ours" }))).toEqual([404, NOT_FOUND]);
    expect(
      (await exo(tenantId, "Get-JournalRule", { Identity: guid.toUpperCase() })).body.value?.[0],
    ).toMatchObject({
      Name: "Renamed",
      Guid: guid,
    });
    expect(failure(await exo(tenantId, "Set-JournalRule", { Identity: guid, Name: "theirs" }))[0]).toBe(400);
    expect((await exo(tenantId, "Enable-JournalRule", { Identity: guid })).status).toBe(200);
    expect((await exo(tenantId, "Remove-JournalRule", { Identity: guid, Confirm: false })).status).toBe(200);
    expect(sim.tenant(tenantId).journalRules.map((r) => r.name)).toEqual(["Theirs"]);
  });

  it("at most maxJournalRules (50 by default) per organisation", async () => {
    const tenantId = randomUUID();
    expect(sim.config().maxJournalRules).toBe(50);
    sim.configure({ maxJournalRules: 2 });
    await withNdr(tenantId);
    for (const name of ["a", "b"])
      expect(
        (await exo(tenantId, "New-JournalRule", { Name: name, JournalEmailAddress: "j@vault.example" }))
          .status,
      ).toBe(200);
    const third = await exo(tenantId, "New-JournalRule", {
      Name: "c",
      JournalEmailAddress: "j@vault.example",
    });
    expect([...failure(third), errorText(third)]).toEqual([
      400,
      INVALID_OPERATION,
      expect.stringMatching(/maximum number of journal rules \(2\)/),
    ]);
    await exo(tenantId, "Remove-JournalRule", { Identity: "a", Confirm: false });
    expect(
      (await exo(tenantId, "New-JournalRule", { Name: "c", JournalEmailAddress: "j@vault.example" })).status,
    ).toBe(200);
  });

  it("refuses a Recipient that is the NDR address, and a Recipient that is not an SMTP address", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    await withNdr(tenantId);
    const ndr = await exo(tenantId, "New-JournalRule", {
      Name: "r",
      JournalEmailAddress: "j@vault.example",
      Recipient: d.admin,
    });
    expect([...failure(ndr), errorText(ndr)]).toEqual([
      400,
      INVALID_OPERATION,
      expect.stringMatching(/JournalingReportNdrTo/),
    ]);
    const name = await exo(tenantId, "New-JournalRule", {
      Name: "r",
      JournalEmailAddress: "j@vault.example",
      Recipient: "All Staff",
    });
    expect(name.status).toBe(400);
    const ok = await exo(tenantId, "New-JournalRule", {
      Name: "r",
      JournalEmailAddress: "j@vault.example",
      Recipient: d.carol.secondaryAddress,
    });
    expect(ok.body.value?.[0]).toMatchObject({ Recipient: d.carol.address, Enabled: false, Scope: "Global" });
  });
});

describe("recipients", () => {
  it("models every RecipientTypeDetails with its identity properties", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const types: [string, string][] = [
      [d.alice, "UserMailbox"],
      [d.shared.address, "SharedMailbox"],
      [d.mailUser.address, "MailUser"],
      [d.contact.address, "MailContact"],
      [d.group.address, "MailUniversalDistributionGroup"],
      [d.securityGroup.address, "MailUniversalSecurityGroup"],
      [d.dynamicGroup.address, "DynamicDistributionGroup"],
      [d.team.address, "GroupMailbox"],
    ];
    for (const [address, type] of types) {
      const [row] = (await exo(tenantId, "Get-Recipient", { Identity: address })).body.value ?? [];
      expect([address, row?.RecipientTypeDetails]).toEqual([address, type]);
      expect(row).toMatchObject({
        Guid: expect.any(String),
        ExternalDirectoryObjectId: expect.any(String),
        Alias: expect.any(String),
        Name: expect.any(String),
        PrimarySmtpAddress: address,
        EmailAddresses: expect.arrayContaining([`SMTP:${address}`]),
      });
    }
    const [mailUser] =
      (await exo(tenantId, "Get-Recipient", { Identity: d.mailUser.address })).body.value ?? [];
    expect(mailUser).toMatchObject({
      WindowsLiveID: d.mailUser.userPrincipalName,
      ExternalEmailAddress: `SMTP:${d.mailUser.externalAddress}`,
    });
  });

  it("resolves carol by every identity: GUID, ExternalDirectoryObjectId, name, alias, UPN, primary and secondary address", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const [carol] = (await exo(tenantId, "Get-Recipient", { Identity: d.carol.address })).body.value ?? [];
    expect(carol).toMatchObject({
      Alias: d.carol.alias,
      WindowsLiveID: d.carol.userPrincipalName,
      UserPrincipalName: d.carol.userPrincipalName,
      EmailAddresses: [`SMTP:${d.carol.address}`, `smtp:${d.carol.secondaryAddress}`],
    });
    for (const identity of [
      String(carol?.Guid),
      String(carol?.ExternalDirectoryObjectId),
      d.carol.name,
      d.carol.alias,
      d.carol.userPrincipalName,
      `smtp:${d.carol.secondaryAddress}`,
      d.carol.secondaryAddress.toUpperCase(),
    ]) {
      const [row] = (await exo(tenantId, "Get-Recipient", { Identity: identity })).body.value ?? [];
      expect([identity, row?.PrimarySmtpAddress]).toEqual([identity, d.carol.address]);
    }
  });

  it("an identity that matches more than one object is ambiguous (ManagementObjectAmbiguousException)", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const a = await exo(tenantId, "Get-Recipient", { Identity: d.ambiguousIdentity });
    expect(a.status).toBe(400);
    expect(a.body.error?.details[0]?.message).toBe(
      `Ex9E65A2|Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException|The operation couldn't be performed because object: '${d.ambiguousIdentity}' matches multiple entries.`,
    );
    const group = await exo(tenantId, "New-DistributionGroup", {
      Name: "G",
      PrimarySmtpAddress: `g@${d.domain}`,
      Members: [d.ambiguousIdentity],
    });
    expect(errorType(group)).toMatch(/ManagementObjectAmbiguousException/);
    const member = await exo(tenantId, "Add-DistributionGroupMember", {
      Identity: d.group.name,
      Member: d.ambiguousIdentity,
    });
    expect(errorType(member)).toMatch(/ManagementObjectAmbiguousException/);
  });

  it("filters by RecipientTypeDetails, by an OPATH equality Filter, and limits to ResultSize", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    sim.configure({ pageSize: 100 });
    try {
      const contacts = await exo(tenantId, "Get-Recipient", { RecipientTypeDetails: ["MailContact"] });
      expect(contacts.body.value?.every((r) => r.RecipientTypeDetails === "MailContact")).toBe(true);
      expect(contacts.body.value?.map((r) => r.PrimarySmtpAddress)).toContain(d.contact.address);
      const filtered = await exo(tenantId, "Get-Recipient", {
        Filter: `EmailAddresses -eq 'smtp:${d.carol.secondaryAddress}'`,
      });
      expect(filtered.body.value?.map((r) => r.PrimarySmtpAddress)).toEqual([d.carol.address]);
      expect((await exo(tenantId, "Get-Recipient", { ResultSize: 3 })).body.value).toHaveLength(3);
      expect(failure(await exo(tenantId, "Get-Recipient", { RecipientTypeDetails: "Robot" }))).toEqual([
        400,
        BINDING,
      ]);
      expect(failure(await exo(tenantId, "Get-Recipient", { Filter: "Name -like 'a*'" }))).toEqual([
        400,
        BINDING,
      ]);
    } finally {
      sim.configure({ pageSize: 2 });
    }
  });

  it("$select keeps only the asked properties, on every page", async () => {
    const tenantId = randomUUID();
    const org = await exo(tenantId, "Get-OrganizationConfig", {}, { query: "$select=IsDehydrated" });
    expect(org.body.value).toEqual([{ IsDehydrated: false }]);
    const first = await exo(tenantId, "Get-Recipient", {}, { query: "$select=PrimarySmtpAddress,Alias" });
    expect(Object.keys(first.body.value?.[0] ?? {}).sort()).toEqual(["Alias", "PrimarySmtpAddress"]);
    expect(first.body["@odata.nextLink"]).toMatch(/\$select=PrimarySmtpAddress,Alias/);
  });

  it("Get-AcceptedDomain answers the .onmicrosoft.com domain (default) and the custom one", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    sim.configure({ pageSize: 100 });
    try {
      const a = await exo(tenantId, "Get-AcceptedDomain");
      expect(a.body.value).toEqual([
        expect.objectContaining({
          Identity: d.domain,
          Name: d.domain,
          DomainName: d.domain,
          DomainType: "Authoritative",
          Default: true,
        }),
        expect.objectContaining({
          Identity: d.customDomain,
          DomainName: d.customDomain,
          DomainType: "Authoritative",
          Default: false,
        }),
      ]);
      expect(
        (await exo(tenantId, "Get-AcceptedDomain", { Identity: d.customDomain })).body.value,
      ).toHaveLength(1);
      expect(failure(await exo(tenantId, "Get-AcceptedDomain", { Identity: "nope.example" }))).toEqual([
        404,
        NOT_FOUND,
      ]);
    } finally {
      sim.configure({ pageSize: 2 });
    }
  });
});

describe("distribution groups", () => {
  it("New-DistributionGroup: PrimarySmtpAddress in an accepted domain, Name at most 64", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const outside = await exo(tenantId, "New-DistributionGroup", {
      Name: "X",
      PrimarySmtpAddress: "x@not-ours.example",
    });
    expect([...failure(outside), errorText(outside)]).toEqual([
      400,
      DATA_VALIDATION,
      expect.stringMatching(/accepted domain/),
    ]);
    const long = await exo(tenantId, "New-DistributionGroup", {
      Name: "n".repeat(65),
      PrimarySmtpAddress: `n@${d.domain}`,
    });
    expect(errorText(long)).toMatch(/maximum length is 64/);
    const custom = await exo(tenantId, "New-DistributionGroup", {
      Name: "X",
      PrimarySmtpAddress: `x@${d.customDomain}`,
    });
    expect(custom.body.value?.[0]).toMatchObject({ PrimarySmtpAddress: `x@${d.customDomain}` });
  });

  it("Get/Set/Remove-DistributionGroup and its members' cmdlets take the Guid, name or address; a rename keeps the Guid, a name or address in use is refused", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const made = await exo(tenantId, "New-DistributionGroup", {
      Name: "Our list",
      PrimarySmtpAddress: `ours@${d.domain}`,
      Members: [d.alice],
      ManagedBy: [d.admin],
    });
    const guid = made.body.value?.[0]?.Guid as string;
    expect(guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await exo(tenantId, "New-DistributionGroup", {
      Name: "Theirs",
      PrimarySmtpAddress: `theirs@${d.domain}`,
    });
    for (const identity of [guid, guid.toUpperCase(), "Our list", `ours@${d.domain}`])
      expect(
        (await exo(tenantId, "Get-DistributionGroup", { Identity: identity })).body.value?.[0],
      ).toMatchObject({
        Name: "Our list",
        Guid: guid,
      });
    // A group with owners: the app needs the switch to change it, as for its members.
    const unswitched = await exo(tenantId, "Set-DistributionGroup", { Identity: guid, Name: "Renamed" });
    expect(errorText(unswitched)).toMatch(/manager of the group/);
    const set = (params: Record<string, unknown>) =>
      exo(tenantId, "Set-DistributionGroup", {
        Identity: guid,
        BypassSecurityGroupManagerCheck: true,
        ...params,
      });
    expect((await set({ Name: "Renamed", DisplayName: "Renamed list" })).status).toBe(200);
    expect(failure(await exo(tenantId, "Get-DistributionGroup", { Identity: "Our list" }))).toEqual([
      404,
      NOT_FOUND,
    ]);
    expect((await exo(tenantId, "Get-DistributionGroup", { Identity: guid })).body.value?.[0]).toMatchObject({
      Name: "Renamed",
      DisplayName: "Renamed list",
      Guid: guid,
      PrimarySmtpAddress: `ours@${d.domain}`,
    });
    expect(errorText(await set({ Name: "theirs" }))).toMatch(/already being used/);
    expect(errorText(await set({ PrimarySmtpAddress: `theirs@${d.domain}` }))).toMatch(/already being used/);
    expect(errorText(await set({ Name: "n".repeat(65) }))).toMatch(/maximum length is 64/);
    // A new primary address: the old one stays as a secondary address.
    expect((await set({ PrimarySmtpAddress: `list@${d.domain}` })).status).toBe(200);
    const moved = (await exo(tenantId, "Get-DistributionGroup", { Identity: `ours@${d.domain}` })).body
      .value?.[0];
    expect(moved).toMatchObject({ Guid: guid, PrimarySmtpAddress: `list@${d.domain}` });
    const members = await exo(tenantId, "Get-DistributionGroupMember", { Identity: guid });
    expect(members.body.value?.map((m) => m.PrimarySmtpAddress)).toEqual([d.alice]);
    const add = { Identity: guid, Member: d.bob, BypassSecurityGroupManagerCheck: true };
    expect((await exo(tenantId, "Add-DistributionGroupMember", add)).status).toBe(200);
    expect((await exo(tenantId, "Remove-DistributionGroupMember", add)).status).toBe(200);
    const removed = { Identity: guid, BypassSecurityGroupManagerCheck: true, Confirm: false };
    expect((await exo(tenantId, "Remove-DistributionGroup", removed)).status).toBe(200);
    expect(
      sim
        .tenant(tenantId)
        .groups.filter((g) => !g.seeded)
        .map((g) => g.name),
    ).toEqual(["Theirs"]);
  });

  it("resolves Members and ManagedBy by any identity; refuses Microsoft 365 groups as members", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const [carol] = (await exo(tenantId, "Get-Recipient", { Identity: d.carol.address })).body.value ?? [];
    const identities = [
      String(carol?.Guid),
      d.carol.name,
      d.carol.alias,
      d.carol.userPrincipalName,
      d.carol.secondaryAddress,
    ];
    for (const [i, identity] of identities.entries()) {
      const a = await exo(tenantId, "New-DistributionGroup", {
        Name: `G${i}`,
        PrimarySmtpAddress: `g${i}@${d.domain}`,
        Members: [identity, d.contact.address],
        ManagedBy: [d.carol.userPrincipalName],
      });
      expect([identity, a.status, a.body.value?.[0]?.ManagedBy]).toEqual([identity, 200, [d.carol.name]]);
      expect(sim.tenant(tenantId).groups.find((g) => g.name === `G${i}`)?.members).toEqual([
        d.carol.address,
        d.contact.address,
      ]);
    }
    const team = await exo(tenantId, "New-DistributionGroup", {
      Name: "T",
      PrimarySmtpAddress: `t@${d.domain}`,
      Members: [d.team.address],
    });
    expect(team.status).toBe(400);
    const owner = await exo(tenantId, "New-DistributionGroup", {
      Name: "O",
      PrimarySmtpAddress: `o@${d.domain}`,
      ManagedBy: [d.contact.address],
    });
    expect(owner.status).toBe(400);
  });

  it("Get-DistributionGroupMember rows carry the identity properties; the seeded group holds carol", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const a = await exo(tenantId, "Get-DistributionGroupMember", {
      Identity: d.existingGroup.address,
      ResultSize: "Unlimited",
    });
    expect(a.body.value).toEqual([
      expect.objectContaining({
        Guid: expect.any(String),
        ExternalDirectoryObjectId: expect.any(String),
        Name: d.carol.name,
        Alias: d.carol.alias,
        PrimarySmtpAddress: d.carol.address,
        EmailAddresses: [`SMTP:${d.carol.address}`, `smtp:${d.carol.secondaryAddress}`],
        WindowsLiveID: d.carol.userPrincipalName,
        RecipientTypeDetails: "UserMailbox",
      }),
    ]);
    const [group] =
      (await exo(tenantId, "Get-DistributionGroup", { Identity: d.existingGroup.name })).body.value ?? [];
    expect(group).toMatchObject({
      PrimarySmtpAddress: d.existingGroup.address,
      ManagedBy: ["Administrator"],
    });
  });

  it("a group with owners needs -BypassSecurityGroupManagerCheck to change its members or remove it", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const operations: [string, Record<string, unknown>][] = [
      ["Add-DistributionGroupMember", { Identity: d.existingGroup.name, Member: d.alice }],
      [
        "Remove-DistributionGroupMember",
        { Identity: d.existingGroup.name, Member: d.carol.address, Confirm: false },
      ],
      ["Remove-DistributionGroup", { Identity: d.existingGroup.name, Confirm: false }],
    ];
    for (const [cmdlet, params] of operations) {
      const refused = await exo(tenantId, cmdlet, params);
      expect([cmdlet, ...failure(refused)]).toEqual([
        cmdlet,
        400,
        "Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException",
      ]);
      const bypassed = await exo(tenantId, cmdlet, { ...params, BypassSecurityGroupManagerCheck: true });
      expect([cmdlet, bypassed.status]).toEqual([cmdlet, 200]);
    }
  });

  it("ResultSize cuts the list and warns that there are more results", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    const a = await exo(tenantId, "Get-DistributionGroupMember", { Identity: d.group.name, ResultSize: 1 });
    expect(a.body.value).toHaveLength(1);
    expect(a.body["@adminapi.warnings"]).toEqual([
      "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.",
    ]);
    const all = await exo(tenantId, "Get-DistributionGroupMember", {
      Identity: d.group.name,
      ResultSize: "Unlimited",
    });
    expect([all.body.value?.length, all.body["@adminapi.warnings"]]).toEqual([2, []]);
  });

  it("Get-DistributionGroup finds neither dynamic groups nor Microsoft 365 groups", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    expect(
      failure(await exo(tenantId, "Get-DistributionGroup", { Identity: d.dynamicGroup.address })),
    ).toEqual([404, NOT_FOUND]);
    expect(failure(await exo(tenantId, "Get-DistributionGroup", { Identity: d.team.address }))).toEqual([
      404,
      NOT_FOUND,
    ]);
    expect((await exo(tenantId, "Get-DistributionGroup", { Identity: d.securityGroup.address })).status).toBe(
      200,
    );
  });

  it("already a member (by any identity) -> MemberAlreadyExistsException; not a member -> MemberNotFoundException", async () => {
    const tenantId = randomUUID();
    const d = sim.demo(tenantId);
    for (const identity of [d.carol.secondaryAddress, d.carol.userPrincipalName, d.carol.alias]) {
      const a = await exo(tenantId, "Add-DistributionGroupMember", {
        Identity: d.existingGroup.name,
        Member: identity,
        BypassSecurityGroupManagerCheck: true,
      });
      expect([identity, ...failure(a), errorText(a)]).toEqual([
        identity,
        400,
        "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
        `The recipient "${d.carol.address}" is already a member of the group "${d.existingGroup.name}".`,
      ]);
    }
    const removeBob = await exo(tenantId, "Remove-DistributionGroupMember", {
      Identity: d.existingGroup.name,
      Member: d.bob,
      BypassSecurityGroupManagerCheck: true,
      Confirm: false,
    });
    expect([...failure(removeBob), errorText(removeBob)]).toEqual([
      400,
      "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
      `The recipient "${d.bob}" isn't a member of the group "${d.existingGroup.name}".`,
    ]);
    const removeCarol = await exo(tenantId, "Remove-DistributionGroupMember", {
      Identity: d.existingGroup.address,
      Member: d.carol.userPrincipalName,
      BypassSecurityGroupManagerCheck: true,
      Confirm: false,
    });
    expect(removeCarol.status).toBe(200);
    expect(sim.tenant(tenantId).groups.find((g) => g.name === d.existingGroup.name)?.members).toEqual([]);
  });
});

describe("dehydrated organisations", () => {
  const DEHYDRATED = "Microsoft.Exchange.Configuration.Tasks.InvalidOperationInDehydratedContextException";

  it("refuses every write until Enable-OrganizationCustomization; a second Enable is an error", async () => {
    const tenantId = randomUUID();
    sim.setDehydrated(tenantId, true);
    for (const [cmdlet, params] of [
      ["New-OutboundConnector", connector],
      ["Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin }],
      ["New-DistributionGroup", { Name: "G", PrimarySmtpAddress: `g@${sim.demo(tenantId).domain}` }],
    ] as const) {
      expect([cmdlet, ...failure(await exo(tenantId, cmdlet, params))]).toEqual([cmdlet, 400, DEHYDRATED]);
    }
    expect((await exo(tenantId, "Get-Recipient", { Identity: "alice" })).status).toBe(200);
    expect((await exo(tenantId, "Enable-OrganizationCustomization")).status).toBe(200);
    expect((await exo(tenantId, "New-OutboundConnector", connector)).status).toBe(200);
    const again = await exo(tenantId, "Enable-OrganizationCustomization");
    expect([again.status, errorText(again)]).toEqual([
      400,
      expect.stringMatching(/already enabled for customization/),
    ]);
  });

  it("hydrationDelayMs: writes keep failing as dehydrated until hydration completes; Enable again is refused meanwhile", async () => {
    const tenantId = randomUUID();
    sim.configure({ hydrationDelayMs: 400 });
    sim.setDehydrated(tenantId, true);
    expect((await exo(tenantId, "Enable-OrganizationCustomization")).status).toBe(200);
    expect(sim.tenant(tenantId)).toMatchObject({ dehydrated: true, hydrating: true });
    expect(failure(await exo(tenantId, "New-OutboundConnector", connector))).toEqual([400, DEHYDRATED]);
    // IsDehydrated reads false as soon as the cmdlet ran, while writes still fail (docs/m365-fidelity.md D3).
    expect((await exo(tenantId, "Get-OrganizationConfig")).body.value?.[0]?.IsDehydrated).toBe(false);
    const again = await exo(tenantId, "Enable-OrganizationCustomization");
    expect(errorText(again)).toMatch(/already enabled for customization/);
    await new Promise((r) => setTimeout(r, 450));
    expect((await exo(tenantId, "Get-OrganizationConfig")).body.value?.[0]?.IsDehydrated).toBe(false);
    expect((await exo(tenantId, "New-OutboundConnector", connector)).status).toBe(200);
    expect(sim.tenant(tenantId)).toMatchObject({ dehydrated: false, hydrating: false });
  });
});
