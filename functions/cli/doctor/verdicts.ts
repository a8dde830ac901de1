/**
 * The doctor's verdict on each assumed row of docs/m365-fidelity.md, as two tables: the rules
 * for the rows that the reads (or the write test) can settle, each a small function of the
 * answers, and the reason each other row stays `unknown`.
 */
import { NotFoundError } from "../../domain/errors.ts";
import { CMDLET_ROLES } from "../../domain/permissions.ts";
import { ADMIN_SETUP_REASONS } from "./admin-setup.ts";
import { describe, redact } from "./answers.ts";
import type { Answers, RowResult, RowVerdict } from "./report.ts";

/** The answers a verdict is drawn from. */
export interface Evidence {
  reads: Answers;
  writes: Answers;
  available: string[] | undefined;
  writeTest: boolean;
}

type Verdict = Pick<RowResult, "verdict" | "detail" | "evidence">;
type Rule = (e: Evidence) => Verdict;

const verdict = (v: RowVerdict, detail: string, evidence: string[] = []): Verdict => ({
  verdict: v,
  detail,
  evidence,
});
const NEEDS_WRITE = "needs --write-test in a test tenant";

/** E9: the cmdlets EXOModuleFile lists are the ones the app could run. */
function moduleFileListsWhatRuns(e: Evidence): Verdict {
  if (e.available === undefined)
    return verdict("unknown", "EXOModuleFile gave no exportedCmdlets (or failed)", ["EXOModuleFile"]);
  const reads = ["Get-TransportConfig", "Get-AcceptedDomain", "Get-JournalRule"];
  const readsWorked = reads.every((k) => !e.reads[k]?.error);
  const listed = reads.every((c) => e.available!.some((a) => a.toLowerCase() === c.toLowerCase()));
  return readsWorked === listed
    ? verdict(
        "confirmed",
        `exportedCmdlets lists ${e.available.length} cmdlets, consistent with what the reads could run`,
        ["EXOModuleFile"],
      )
    : verdict("refuted", "exportedCmdlets disagrees with what the app could run", [
        "EXOModuleFile",
        ...reads,
      ]);
}

/** R8: a cmdlet outside the roles is refused with a text we classify as a missing permission. */
function refusalIsClassified(e: Evidence): Verdict {
  const d = e.reads["denied"];
  if (!d)
    return verdict(
      "unknown",
      "the app may run every cmdlet probed (Exchange Administrator?): no refusal to observe",
    );
  return /is not recognized as|not allowed to call|CommandNotFoundException/i.test(d.observation.body)
    ? verdict(
        "confirmed",
        `a cmdlet outside the roles answered HTTP ${d.observation.status} with a text we classify as M365_PERMISSION_MISSING`,
        ["denied:Get-Mailbox"],
      )
    : verdict(
        "refuted",
        `a cmdlet outside the roles answered HTTP ${d.observation.status} with a text we do not classify`,
        ["denied:Get-Mailbox"],
      );
}

/** A3: each cmdlet is held by the role we name. */
function rolesAsNamed(e: Evidence): Verdict {
  const checked = Object.entries(CMDLET_ROLES).filter(([c]) => e.reads[`role:${c}`]);
  if (checked.length === 0) return verdict("unknown", "Get-ManagementRole -Cmdlet was not readable");
  const wrong = checked.filter(
    ([c, role]) =>
      !(e.reads[`role:${c}`]?.rows ?? []).some((r) => String(r["Name"] ?? r["Identity"]) === role),
  );
  return wrong.length === 0
    ? verdict(
        "confirmed",
        `each of ${checked.length} cmdlets is held by the role we name`,
        checked.map(([c]) => `Get-ManagementRole:${c}`),
      )
    : verdict(
        "refuted",
        `not held by the role we name: ${wrong.map(([c, r]) => `${c} (${r})`).join(", ")}`,
        wrong.map(([c]) => `Get-ManagementRole:${c}`),
      );
}

/** P1: accepted domains carry DomainName, DomainType and Default. */
function acceptedDomainShape(e: Evidence): Verdict {
  const r = e.reads["Get-AcceptedDomain"];
  if (!r || r.error) return verdict("unknown", "Get-AcceptedDomain failed");
  const p = r.observation.shape.properties ?? {};
  return "DomainName" in p && "DomainType" in p && "Default" in p
    ? verdict(
        "confirmed",
        `DomainName (${p["DomainName"]}), DomainType (${p["DomainType"]}), Default (${p["Default"]})`,
        ["Get-AcceptedDomain"],
      )
    : verdict("refuted", `properties: ${Object.keys(p).join(", ")}`, ["Get-AcceptedDomain"]);
}

const MEMBER_PROPERTIES = [
  "Guid",
  "Identity",
  "Name",
  "Alias",
  "PrimarySmtpAddress",
  "RecipientTypeDetails",
  "EmailAddresses",
];

/** G4: a group's members carry the properties the service compares. */
function memberShape(e: Evidence): Verdict {
  const r = e.reads["Get-DistributionGroupMember"];
  if (!r || r.error || (r.rows ?? []).length === 0)
    return verdict("unknown", "no distribution group with members to read");
  const p = r.observation.shape.properties ?? {};
  const absent = MEMBER_PROPERTIES.filter((n) => !(n in p));
  return absent.length === 0
    ? verdict("confirmed", `members carry ${MEMBER_PROPERTIES.join(", ")}`, ["Get-DistributionGroupMember"])
    : verdict("refuted", `members lack ${absent.join(", ")}`, ["Get-DistributionGroupMember"]);
}

const ABSENT_READS = ["Get-Recipient:absent", "Get-OutboundConnector:absent", "Get-JournalRule:absent"];

/** E12: an -Identity that matches nothing answers not found (the simulator's default), not every object. */
function unknownIdentityNotFound(e: Evidence): Verdict {
  const answers = ABSENT_READS.map((key) => [key, e.reads[key]] as const).filter(([, r]) => r);
  if (answers.length === 0) return verdict("unknown", "no read by an unknown -Identity was made");
  const listed = answers.filter(([, r]) => !r!.error);
  if (listed.length > 0)
    return verdict(
      "refuted",
      `${listed.map(([key, r]) => `${key}: ${r!.rows?.length ?? 0} rows`).join("; ")}: an unknown -Identity answered objects (run the simulator with identityMissReturnsAll; the service takes only rows that carry the identity asked for)`,
      listed.map(([key]) => key),
    );
  const notFound = answers.filter(([, r]) => r!.error instanceof NotFoundError);
  return notFound.length === answers.length
    ? verdict(
        "confirmed",
        `${answers.length} reads by an unknown -Identity answered ManagementObjectNotFoundException`,
        answers.map(([key]) => key),
      )
    : verdict(
        "unknown",
        "a read by an unknown -Identity failed otherwise",
        answers.map(([key]) => key),
      );
}

/** G2: an app can create a group without ManagedBy. */
function groupWithoutManagedBy(e: Evidence): Verdict {
  if (!e.writeTest) return verdict("unknown", NEEDS_WRITE);
  const w = e.writes["Get-DistributionGroup:new"];
  if (!w || w.error)
    return verdict(
      e.writes["New-DistributionGroup"]?.error ? "refuted" : "unknown",
      "the group could not be created without ManagedBy, or not read back",
      ["New-DistributionGroup"],
    );
  return verdict(
    "confirmed",
    `created app-only without ManagedBy; ManagedBy reads ${JSON.stringify(redact(JSON.stringify(w.rows?.[0]?.["ManagedBy"] ?? null)))}`,
    ["New-DistributionGroup", "Get-DistributionGroup:new"],
  );
}

/** O12: validating a connector to a non-delivering host answers failed task rows, not an error. */
function validationRows(e: Evidence): Verdict {
  if (!e.writeTest) return verdict("unknown", NEEDS_WRITE);
  const w = e.writes["Validate-OutboundConnector"];
  if (!w) return verdict("unknown", "the connector could not be created");
  if (w.error)
    return verdict(
      "refuted",
      `validation of a non-delivering host answered an error (HTTP ${w.observation.status}), not failed task rows`,
      ["Validate-OutboundConnector"],
    );
  const p = w.observation.shape.properties ?? {};
  return "TaskName" in p && "IsTaskSuccessful" in p
    ? verdict("confirmed", `rows carry TaskName and IsTaskSuccessful (${p["IsTaskSuccessful"]})`, [
        "Validate-OutboundConnector",
      ])
    : verdict("refuted", `rows carry ${Object.keys(p).join(", ")}`, ["Validate-OutboundConnector"]);
}

/** O1: a connector in test mode is hidden from Get-OutboundConnector -Identity unless asked for. */
function testModeHidden(e: Evidence): Verdict {
  if (!e.writeTest) return verdict("unknown", NEEDS_WRITE);
  const set = e.writes["Set-OutboundConnector:test-mode"];
  const plain = e.writes["Get-OutboundConnector:test-mode"];
  const asked = e.writes["Get-OutboundConnector:test-mode-included"];
  if (!set || set.error || !plain || !asked)
    return verdict("unknown", "the test connector could not be put in test mode");
  const evidence = ["Get-OutboundConnector:test-mode", "Get-OutboundConnector:test-mode-included"];
  if (asked.error || (asked.rows?.length ?? 0) === 0)
    return verdict(
      "refuted",
      "-IncludeTestModeConnectors $true did not find the connector in test mode",
      evidence,
    );
  if (plain.error instanceof NotFoundError)
    return verdict(
      "confirmed",
      "hidden from -Identity without -IncludeTestModeConnectors, found with it",
      evidence,
    );
  return plain.error
    ? verdict("unknown", `the plain read failed: ${describe(plain.error)}`, evidence)
    : verdict(
        "refuted",
        "found by -Identity without -IncludeTestModeConnectors (the filter spares -Identity)",
        evidence,
      );
}

/** The rows the doctor's own answers can settle. */
const RULES: Readonly<Record<string, Rule>> = {
  E9: moduleFileListsWhatRuns,
  R8: refusalIsClassified,
  A3: rolesAsNamed,
  P1: acceptedDomainShape,
  G4: memberShape,
  G2: groupWithoutManagedBy,
  O12: validationRows,
  O1: testModeHidden,
  E12: unknownIdentityNotFound,
};

/** Why each other row stays unknown (A7-A12: the admin's probe, which has its own reasons). */
const UNKNOWN_BECAUSE: Readonly<Record<string, string>> = {
  A2: "checked by running the permissions script (docs/real-tenant.md), not by the app",
  A4: "needs an app without that role; run the doctor again with the role group only",
  A5: "needs an app without that role; run the doctor again with the role group only",
  E7: "Exchange must choose to answer a 200 with @adminapi.errors; a read cannot provoke it",
  T4: "needs a tenant of another cloud reached through these endpoints",
  T6: "needs a tenant that never consented",
  R3: "needs a gateway timeout",
  R4: "needs a revoked or expired token",
  R5: "needs more concurrent requests than the tenant allows (not provoked on purpose)",
  R6: "needs a directory fault",
  R7: "timings of Validate-OutboundConnector and large groups: see the write test's durations",
  O13: "needs --write-test and the validation right after creation (timing)",
  C3: "needs a write of JournalingReportNdrTo, which the doctor never makes (Exchange may refuse to clear it)",
  J9: "needs a journal rule on the NDR mailbox; not created by the doctor",
  G8: "needs a group with a member to remove",
  G9: "needs a sustained stream of member adds",
  D3: "needs a dehydrated organisation",
  D4: "needs a dehydrated organisation",
  O5: "needs writes with invalid smart hosts",
  O6: "needs writes with TlsDomain",
  O15: "what a connector in test mode does with mail: needs mail sent through one",
  G3: "the doctor reads no group by -Identity with -RecipientTypeDetails (the service never sends it)",
  N4: "needs a 21Vianet tenant",
};

const UNKNOWN_OTHERWISE = "needs a fault, a write or a timing that a read cannot produce";

/** A row's verdict: its rule's, or `unknown` with the reason. */
export function verdictFor(row: { id: string; title: string }, e: Evidence): RowResult {
  const rule = RULES[row.id];
  const v = rule
    ? rule(e)
    : verdict("unknown", UNKNOWN_BECAUSE[row.id] ?? ADMIN_SETUP_REASONS[row.id] ?? UNKNOWN_OTHERWISE);
  return { ...row, ...v };
}
