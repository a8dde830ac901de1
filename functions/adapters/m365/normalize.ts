/**
 * Exchange output to the port's camelCase types. Exchange returns PascalCase, addresses with
 * or without `smtp:`, and multivalued properties as an array, a single value or null.
 */
import type {
  ConnectorValidationTask,
  DistributionGroup,
  JournalRule,
  OutboundConnector,
  Recipient,
  TlsSettings,
  TransportConfig,
} from "../../domain/m365.ts";
import type { CmdletRow } from "./exchange-client.ts";

/** A property by name, case-insensitively (PowerShell is). */
export function prop(row: CmdletRow, name: string): unknown {
  if (name in row) return row[name];
  const lower = name.toLowerCase();
  const key = Object.keys(row).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : row[key];
}

export function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") {
    const v = value as Record<string, unknown>;
    // Some serialisers wrap values as {Name, Address} or {Value}.
    return text(v.Address ?? v.address ?? v.Value ?? v.value ?? v.Name ?? v.name ?? "");
  }
  return String(value);
}

export function flag(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return /^(\$?true|1|yes)$/i.test(value.trim());
  return value === 1;
}

/** A multivalued property as a list: null is empty, a single value is one item. */
export function list(value: unknown): string[] {
  if (value === null || value === undefined || value === "") return [];
  const items = Array.isArray(value) ? value : [value];
  return items
    .map(text)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** An SMTP address without its `smtp:`/`SMTP:` prefix. */
export function address(value: unknown): string {
  return text(value)
    .trim()
    .replace(/^smtp:/i, "");
}

/** An optional address; Exchange writes an unset SmtpAddress as `<>`. */
export function optionalAddress(value: unknown): string | null {
  const a = address(value);
  return a === "" || a === "<>" ? null : a;
}

function identity(row: CmdletRow): string {
  return text(prop(row, "Identity")) || text(prop(row, "Name")) || text(prop(row, "Guid"));
}

const TLS: readonly TlsSettings[] = ["EncryptionOnly", "CertificateValidation", "DomainValidation"];

export function toOutboundConnector(row: CmdletRow): OutboundConnector {
  const tls = text(prop(row, "TlsSettings"));
  const type = text(prop(row, "ConnectorType"));
  return {
    identity: identity(row),
    name: text(prop(row, "Name")),
    comment: text(prop(row, "Comment")),
    connectorType: /^onpremises$/i.test(type) ? "OnPremises" : "Partner",
    recipientDomains: list(prop(row, "RecipientDomains")),
    smartHosts: list(prop(row, "SmartHosts")),
    useMxRecord: flag(prop(row, "UseMXRecord")),
    tlsSettings: TLS.find((t) => t.toLowerCase() === tls.toLowerCase()) ?? null,
    enabled: flag(prop(row, "Enabled")),
    isTransportRuleScoped: flag(prop(row, "IsTransportRuleScoped")),
    testMode: flag(prop(row, "TestMode")),
    isValidated: flag(prop(row, "IsValidated")),
    validationRecipients: list(prop(row, "ValidationRecipients")).map((a) => a.replace(/^smtp:/i, "")),
  };
}

const PASSED = /^(succe(ss|eded|ssful)?|passed?|ok|true|completed?)$/i;
const FAILED = /^(fail(ed|ure)?|error|false|unsuccessful)$/i;

/**
 * One row of Validate-OutboundConnector. Public scripts read `TaskName` and the boolean
 * `IsTaskSuccessful`; a string status is tolerated; a row with neither is `unknown`, which
 * never counts as a pass.
 */
export function toValidationTask(row: CmdletRow): ConnectorValidationTask {
  const details = text(
    prop(row, "Error") ??
      prop(row, "ErrorMessage") ??
      prop(row, "Details") ??
      prop(row, "Message") ??
      prop(row, "Exception"),
  ).trim();
  const successful = prop(row, "IsTaskSuccessful");
  let outcome: ConnectorValidationTask["outcome"] = "unknown";
  if (typeof successful === "boolean") outcome = successful ? "passed" : "failed";
  else if (typeof successful === "string" && /^\$?(true|false)$/i.test(successful.trim())) {
    outcome = flag(successful) ? "passed" : "failed";
  } else {
    const status = text(prop(row, "Status") ?? prop(row, "Result") ?? prop(row, "TaskStatus")).trim();
    if (PASSED.test(status)) outcome = "passed";
    else if (FAILED.test(status)) outcome = "failed";
  }
  return {
    task: text(prop(row, "TaskName") ?? prop(row, "Task") ?? prop(row, "Name")).trim() || "(unnamed task)",
    outcome,
    ...(details ? { details } : {}),
  };
}

export function toTransportConfig(row: CmdletRow | undefined): TransportConfig {
  return { journalingReportNdrTo: row ? optionalAddress(prop(row, "JournalingReportNdrTo")) : null };
}

/** Every name a recipient goes by, for comparing members by the recipient, not the string. */
function recipientNames(row: CmdletRow): string[] {
  const names = new Set<string>();
  const addName = (v: unknown) => {
    const t = address(v).trim().toLowerCase();
    if (t) names.add(t);
  };
  for (const key of [
    "Guid",
    "ExternalDirectoryObjectId",
    "Identity",
    "Name",
    "Alias",
    "PrimarySmtpAddress",
    "WindowsLiveID",
    "UserPrincipalName",
    "ExternalEmailAddress",
  ]) {
    addName(prop(row, key));
  }
  for (const proxy of list(prop(row, "EmailAddresses"))) {
    // Only SMTP proxies name a recipient by address (X500:, SIP:, SPO: are other kinds).
    if (/^smtp:/i.test(proxy) || !proxy.includes(":")) addName(proxy);
  }
  return [...names];
}

/**
 * Whether a row is the object that `identity` (a name, display name, address, GUID or Identity)
 * asks for. The Get- pages caution that an `-Identity` matching nothing may answer every object
 * (docs/m365-fidelity.md E12): a row that does not carry the identity asked for is not that object.
 */
export function carriesIdentity(row: CmdletRow, identity: string): boolean {
  const wanted = address(identity).toLowerCase();
  if (recipientNames(row).includes(wanted)) return true;
  return ["DisplayName", "DistinguishedName"].some(
    (key) => text(prop(row, key)).trim().toLowerCase() === wanted,
  );
}

export function toRecipient(row: CmdletRow): Recipient {
  return {
    identity: identity(row),
    guid: text(prop(row, "Guid") ?? prop(row, "ExternalDirectoryObjectId")).trim(),
    primarySmtpAddress: address(prop(row, "PrimarySmtpAddress")),
    recipientTypeDetails: text(prop(row, "RecipientTypeDetails")),
    names: recipientNames(row),
  };
}

export function toJournalRule(row: CmdletRow): JournalRule {
  const scope = text(prop(row, "Scope")).toLowerCase();
  return {
    identity: identity(row),
    guid: text(prop(row, "Guid")).trim(),
    name: text(prop(row, "Name")),
    journalEmailAddress: address(prop(row, "JournalEmailAddress")),
    scope: scope === "internal" ? "Internal" : scope === "external" ? "External" : "Global",
    recipient: optionalAddress(prop(row, "Recipient")),
    enabled: flag(prop(row, "Enabled")),
  };
}

export function toDistributionGroup(row: CmdletRow): DistributionGroup {
  return {
    identity: identity(row),
    guid: text(prop(row, "Guid")).trim(),
    name: text(prop(row, "Name")),
    primarySmtpAddress: address(prop(row, "PrimarySmtpAddress")),
    recipientTypeDetails: text(prop(row, "RecipientTypeDetails")),
  };
}
