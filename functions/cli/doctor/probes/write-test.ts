/**
 * `--write-test`: creates, validates and removes uniquely named objects (a disabled connector
 * to a non-delivering host, put in test mode before it goes, a disabled journal rule, an empty
 * group), records their answers, and checks that nothing is left behind. Never writes
 * JournalingReportNdrTo.
 */
import { randomBytes } from "node:crypto";
import { NotFoundError } from "../../../domain/errors.ts";
import { describe } from "../answers.ts";
import type { Answers } from "../report.ts";
import type { DoctorSession } from "../session.ts";

/** The names of this run's objects. */
interface TestObjects {
  id: string;
  host: string;
  connectorName: string;
  ruleName: string;
}

const REPORTED = [
  "New-OutboundConnector",
  "Remove-OutboundConnector",
  "New-JournalRule",
  "Remove-JournalRule",
  "New-DistributionGroup",
  "Remove-DistributionGroup",
];

/** Every write's answer, by key (`Get-...:new` for the read-backs). */
export async function probeWrites(s: DoctorSession, reads: Answers): Promise<Answers> {
  const id = `doctor-${randomBytes(4).toString("hex")}`;
  const names: TestObjects = {
    id,
    host: `${id}.journal-onboarding.invalid`,
    connectorName: `Journal onboarding doctor ${id}`,
    ruleName: `Journal onboarding doctor ${id}`,
  };
  const defaultDomain = String(
    reads["Get-AcceptedDomain"]?.rows?.find((d) => d["Default"] === true || d["Default"] === "True")?.[
      "DomainName"
    ] ?? "",
  );
  s.log(`write test: objects named ${id}`);
  const writes: Answers = {};
  await writeConnector(s, names, writes);
  await writeJournalRule(s, names, reads, writes);
  if (defaultDomain) await writeGroup(s, names, defaultDomain, writes);
  for (const key of REPORTED) {
    const w = writes[key];
    if (w) s.check(`write:${key}`, key, w.error ? "fail" : "pass", w.error ? describe(w.error) : "done");
  }
  await checkNothingLeft(s, names);
  return writes;
}

async function writeConnector(s: DoctorSession, o: TestObjects, writes: Answers): Promise<void> {
  writes["New-OutboundConnector"] = await s.run("New-OutboundConnector", "New-OutboundConnector", {
    Name: o.connectorName,
    Comment: "journal onboarding doctor: safe to delete",
    ConnectorType: "Partner",
    RecipientDomains: [o.host],
    SmartHosts: [o.host],
    UseMXRecord: false,
    TlsSettings: "CertificateValidation",
    Enabled: false,
  });
  if (writes["New-OutboundConnector"].error) return;
  writes["Get-OutboundConnector:new"] = await s.run("Get-OutboundConnector:new", "Get-OutboundConnector", {
    Identity: o.connectorName,
  });
  writes["Validate-OutboundConnector"] = await s.run(
    "Validate-OutboundConnector",
    "Validate-OutboundConnector",
    {
      Identity: o.connectorName,
      Recipients: [`doctor@${o.host}`],
    },
  );
  await probeTestMode(s, o, writes);
  writes["Remove-OutboundConnector"] = await s.run("Remove-OutboundConnector", "Remove-OutboundConnector", {
    Identity: o.connectorName,
    Confirm: false,
  });
}

/**
 * O1: the test connector in test mode, read by its name without and with
 * -IncludeTestModeConnectors $true (does Exchange hide it from the plain read?).
 */
async function probeTestMode(s: DoctorSession, o: TestObjects, writes: Answers): Promise<void> {
  writes["Set-OutboundConnector:test-mode"] = await s.run(
    "Set-OutboundConnector:test-mode",
    "Set-OutboundConnector",
    { Identity: o.connectorName, TestMode: true },
  );
  if (writes["Set-OutboundConnector:test-mode"].error) return;
  writes["Get-OutboundConnector:test-mode"] = await s.run(
    "Get-OutboundConnector:test-mode",
    "Get-OutboundConnector",
    { Identity: o.connectorName },
  );
  writes["Get-OutboundConnector:test-mode-included"] = await s.run(
    "Get-OutboundConnector:test-mode-included",
    "Get-OutboundConnector",
    { Identity: o.connectorName, IncludeTestModeConnectors: true },
  );
}

/** A journal rule needs the NDR address set; the doctor never sets it, so without it this is skipped. */
async function writeJournalRule(
  s: DoctorSession,
  o: TestObjects,
  reads: Answers,
  writes: Answers,
): Promise<void> {
  const ndr = reads["Get-TransportConfig"]?.rows?.[0]?.["JournalingReportNdrTo"];
  if (!(typeof ndr === "string" && ndr.includes("@"))) {
    s.check(
      "write:journal-rule",
      "Journal rule write test",
      "skip",
      "JournalingReportNdrTo is not set: a rule needs it, and the doctor never sets it (Exchange may refuse to clear it again)",
    );
    return;
  }
  writes["New-JournalRule"] = await s.run("New-JournalRule", "New-JournalRule", {
    Name: o.ruleName,
    JournalEmailAddress: `doctor@${o.host}`,
    Scope: "External",
    Enabled: false,
  });
  if (writes["New-JournalRule"].error) return;
  writes["Get-JournalRule:new"] = await s.run("Get-JournalRule:new", "Get-JournalRule", {
    Identity: o.ruleName,
  });
  writes["Remove-JournalRule"] = await s.run("Remove-JournalRule", "Remove-JournalRule", {
    Identity: o.ruleName,
    Confirm: false,
  });
}

async function writeGroup(s: DoctorSession, o: TestObjects, domain: string, writes: Answers): Promise<void> {
  writes["New-DistributionGroup"] = await s.run("New-DistributionGroup", "New-DistributionGroup", {
    Name: o.id,
    PrimarySmtpAddress: `${o.id}@${domain}`,
    Type: "Distribution",
  });
  if (writes["New-DistributionGroup"].error) return;
  writes["Get-DistributionGroup:new"] = await s.run("Get-DistributionGroup:new", "Get-DistributionGroup", {
    Identity: o.id,
  });
  writes["Get-DistributionGroupMember:new"] = await s.run(
    "Get-DistributionGroupMember:new",
    "Get-DistributionGroupMember",
    { Identity: o.id, ResultSize: "Unlimited" },
  );
  writes["Remove-DistributionGroup"] = await s.run("Remove-DistributionGroup", "Remove-DistributionGroup", {
    Identity: o.id,
    BypassSecurityGroupManagerCheck: true,
    Confirm: false,
  });
}

async function checkNothingLeft(s: DoctorSession, o: TestObjects): Promise<void> {
  const left: string[] = [];
  for (const [cmdlet, identity, extra] of [
    ["Get-OutboundConnector", o.connectorName, {}],
    // Exchange leaves a connector in test mode out of the plain read (O1).
    ["Get-OutboundConnector", o.connectorName, { IncludeTestModeConnectors: true }],
    ["Get-JournalRule", o.ruleName, {}],
    ["Get-DistributionGroup", o.id, {}],
  ] as const) {
    try {
      const rows = await s.exchange.invoke(s.tenantId, cmdlet, { Identity: identity, ...extra });
      if (rows.length > 0) left.push(`${cmdlet} ${identity}`);
    } catch (err) {
      if (!(err instanceof NotFoundError)) left.push(`${cmdlet} ${identity} (${describe(err)})`);
    }
  }
  s.check(
    "write:cleanup",
    "Nothing left behind",
    left.length === 0 ? "pass" : "fail",
    left.length === 0 ? `no object named ${o.id} remains` : `still there: ${left.join("; ")}`,
  );
}
