/** Outbound connectors: New-/Set-/Get-/Remove-/Validate-OutboundConnector. */
import { randomUUID } from "node:crypto";
import type { SimConnector, TenantState } from "../state.ts";
import {
  badValue,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  checkSmtp,
  domainOf,
  EXCEPTION,
  has,
  limitRows,
  list,
  missing,
  multi,
  notFound,
  oneOf,
  type Params,
  type Row,
  same,
  str,
} from "./invoke.ts";

// Source: New-OutboundConnector.md (TlsSettings, ConnectorType valid values).
const TLS_SETTINGS = ["EncryptionOnly", "CertificateValidation", "DomainValidation"] as const;
const CONNECTOR_TYPES = ["Partner", "OnPremises"] as const;
const CONNECTOR_SOURCES = ["Default", "Migrated", "HybridWizard"] as const;
// Source: New-OutboundConnector.md (-MtaStsMode: Opportunistic, the default, or None; -SmtpDaneMode:
// Opportunistic, the default, Mandatory or None).
const MTA_STS_MODES = ["Opportunistic", "None"] as const;
const SMTP_DANE_MODES = ["Opportunistic", "Mandatory", "None"] as const;
const LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
// The last label (the TLD) has a letter, so that "300.1.1.1" is no FQDN.
const FQDN = new RegExp(`^(?=.{1,253}$)(${LABEL}\\.)+(?=[A-Za-z0-9-]*[A-Za-z])${LABEL}$`);
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const IPV4_CIDR = new RegExp(`^${OCTET}(\\.${OCTET}){3}/(3[0-2]|[12]?\\d)$`);

const invalid = (message: string) => new CmdletError(400, EXCEPTION.DATA_VALIDATION, message);

/**
 * RecipientDomains and TlsDomain: a domain, `*.domain`, and for RecipientDomains `*` alone.
 * Source: New-OutboundConnector.md ("*.contoso.com ... you can't embed a wildcard character");
 * bare `*`: seen in public setup scripts (docs/m365-fidelity.md), not in the doc.
 */
function checkDomain(parameter: string, value: string, allowStar: boolean): void {
  if (allowStar && value === "*") return;
  const domain = value.startsWith("*.") ? value.slice(2) : value;
  if (!FQDN.test(domain)) throw invalid(`"${value}" isn't a valid domain for parameter ${parameter}.`);
}

/**
 * SmartHosts: an FQDN, an IPv4 address or an IPv4 CIDR range; no port, no wildcard, no IPv6.
 * Source: New-OutboundConnector.md (-SmartHosts "FQDNs ... or IP addresses ... or CIDR, e.g.
 * 192.168.0.1/25"); no port: office-docs-powershell issue #5599; wildcard and IPv6 refused: assumed.
 */
function checkSmartHost(host: string): void {
  if (FQDN.test(host) || IPV4.test(host) || IPV4_CIDR.test(host)) return;
  throw invalid(
    `"${host}" isn't a valid smart host. Specify a fully qualified domain name, an IPv4 address or an IPv4 CIDR range.`,
  );
}

function validateConnectorShape(c: SimConnector): void {
  // Source: New-OutboundConnector.md (-SmartHosts "required if you set the UseMxRecord parameter to $false").
  if (!c.useMxRecord && c.smartHosts.length === 0) {
    throw invalid(
      "SmartHosts must be specified when UseMXRecord is set to false. Specify at least one smart host or set UseMXRecord to true.",
    );
  }
  // Assumed: no public source says whether Exchange refuses or drops smart hosts with UseMXRecord $true; refused.
  if (c.useMxRecord && c.smartHosts.length > 0) {
    throw invalid(
      "SmartHosts can't be specified when UseMXRecord is set to true. Remove the smart hosts or set UseMXRecord to false.",
    );
  }
  for (const host of c.smartHosts) checkSmartHost(host);
  for (const domain of c.recipientDomains) checkDomain("RecipientDomains", domain, true);
  // Source: New-OutboundConnector.md (-TlsDomain "only used if the TlsSettings parameter is set to
  // DomainValidation"); DomainValidation requiring a TlsDomain: assumed.
  if (c.tlsDomain !== null) {
    checkDomain("TlsDomain", c.tlsDomain, false);
    if (c.tlsSettings !== "DomainValidation")
      throw invalid("TlsDomain can be specified only when TlsSettings is set to DomainValidation.");
  }
  if (c.tlsSettings === "DomainValidation" && c.tlsDomain === null)
    throw invalid("TlsDomain must be specified when TlsSettings is set to DomainValidation.");
  // Source: New-OutboundConnector.md (SenderRewritingEnabled, AllAcceptedDomains,
  // RouteAllMessagesViaOnPremises: "$true requires ConnectorType OnPremises").
  for (const [flag, name] of [
    [c.senderRewritingEnabled, "SenderRewritingEnabled"],
    [c.allAcceptedDomains, "AllAcceptedDomains"],
    [c.routeAllMessagesViaOnPremises, "RouteAllMessagesViaOnPremises"],
  ] as const) {
    if (flag && c.connectorType !== "OnPremises")
      throw invalid(`${name} can be set to $true only when ConnectorType is OnPremises.`);
  }
  // Assumed: a Partner connector routes by RecipientDomains unless a transport rule scopes it
  // (public scripts create rule-scoped connectors without RecipientDomains: docs/m365-fidelity.md).
  if (c.connectorType === "Partner" && c.recipientDomains.length === 0 && !c.isTransportRuleScoped) {
    throw invalid(
      "A Partner connector must have RecipientDomains, or be scoped by a transport rule (IsTransportRuleScoped).",
    );
  }
}

function applyConnectorParams(c: SimConnector, p: Params): void {
  if (has(p, "Comment")) c.comment = str(p, "Comment") ?? "";
  c.connectorType = oneOf(p, "ConnectorType", CONNECTOR_TYPES) ?? c.connectorType;
  oneOf(p, "ConnectorSource", CONNECTOR_SOURCES);
  if (has(p, "RecipientDomains")) c.recipientDomains = list(p, "RecipientDomains") ?? [];
  if (has(p, "SmartHosts")) c.smartHosts = list(p, "SmartHosts") ?? [];
  c.useMxRecord = bool(p, "UseMXRecord") ?? c.useMxRecord;
  if (has(p, "TlsSettings")) c.tlsSettings = oneOf(p, "TlsSettings", TLS_SETTINGS) ?? null;
  if (has(p, "TlsDomain")) c.tlsDomain = str(p, "TlsDomain") ?? null;
  c.enabled = bool(p, "Enabled") ?? c.enabled;
  c.isTransportRuleScoped = bool(p, "IsTransportRuleScoped") ?? c.isTransportRuleScoped;
  c.senderRewritingEnabled = bool(p, "SenderRewritingEnabled") ?? c.senderRewritingEnabled;
  c.allAcceptedDomains = bool(p, "AllAcceptedDomains") ?? c.allAcceptedDomains;
  c.cloudServicesMailEnabled = bool(p, "CloudServicesMailEnabled") ?? c.cloudServicesMailEnabled;
  c.routeAllMessagesViaOnPremises =
    bool(p, "RouteAllMessagesViaOnPremises") ?? c.routeAllMessagesViaOnPremises;
  c.testMode = bool(p, "TestMode") ?? c.testMode;
  c.mtaStsMode = oneOf(p, "MtaStsMode", MTA_STS_MODES) ?? c.mtaStsMode;
  c.smtpDaneMode = oneOf(p, "SmtpDaneMode", SMTP_DANE_MODES) ?? c.smtpDaneMode;
}

function connectorRow(c: SimConnector): Row {
  return {
    Identity: c.name,
    Name: c.name,
    Guid: c.guid,
    Comment: c.comment,
    ConnectorType: c.connectorType,
    ConnectorSource: "Default",
    RecipientDomains: multi(c.recipientDomains),
    SmartHosts: multi(c.smartHosts),
    UseMXRecord: c.useMxRecord,
    TlsSettings: c.tlsSettings,
    TlsDomain: c.tlsDomain,
    Enabled: c.enabled,
    IsTransportRuleScoped: c.isTransportRuleScoped,
    SenderRewritingEnabled: c.senderRewritingEnabled,
    RouteAllMessagesViaOnPremises: c.routeAllMessagesViaOnPremises,
    AllAcceptedDomains: c.allAcceptedDomains,
    CloudServicesMailEnabled: c.cloudServicesMailEnabled,
    TestMode: c.testMode,
    MtaStsMode: c.mtaStsMode ?? "Opportunistic",
    SmtpDaneMode: c.smtpDaneMode ?? "Opportunistic",
    ValidationRecipients: multi(c.validationRecipients),
    IsValidated: c.isValidated,
    LastValidationTimestamp: c.lastValidationTimestamp,
    WhenCreatedUTC: c.whenCreated,
    WhenChangedUTC: c.whenChanged,
  };
}

/** A connector by name or GUID, as this cmdlet sees it (replication lag hides new ones). */
function findConnector(ctx: CmdletContext, identity: string): SimConnector | undefined {
  const c = ctx.state.connectors.find((x) => same(x.name, identity) || same(x.guid, identity));
  return c && !ctx.notYetReplicated(c.guid) ? c : undefined;
}
function requireConnector(ctx: CmdletContext, identity: string): SimConnector {
  const c = findConnector(ctx, identity);
  if (!c) throw notFound(identity, ctx.state);
  return c;
}
const nameTaken = (state: TenantState, name: string) => state.connectors.find((x) => same(x.name, name));
function alreadyExists(name: string): CmdletError {
  return new CmdletError(
    400,
    EXCEPTION.ALREADY_EXISTS,
    `An outbound connector with the name "${name}" already exists.`,
  );
}

const newOutboundConnector = (ctx: CmdletContext): Row[] => {
  const { state, params, now } = ctx;
  const name = str(params, "Name", true)!;
  checkName(name);
  if (nameTaken(state, name)) throw alreadyExists(name);
  const c: SimConnector = {
    guid: randomUUID(),
    name,
    comment: "",
    connectorType: "Partner",
    recipientDomains: [],
    smartHosts: [],
    // Source: New-OutboundConnector.md (UseMXRecord default $true, Enabled default $true).
    useMxRecord: true,
    tlsSettings: null,
    tlsDomain: null,
    enabled: true,
    isTransportRuleScoped: false,
    senderRewritingEnabled: false,
    allAcceptedDomains: false,
    cloudServicesMailEnabled: false,
    routeAllMessagesViaOnPremises: false,
    testMode: false,
    mtaStsMode: "Opportunistic",
    smtpDaneMode: "Opportunistic",
    validationRecipients: [],
    isValidated: false,
    lastValidationTimestamp: null,
    validations: 0,
    whenCreated: now,
    whenChanged: now,
  };
  applyConnectorParams(c, params);
  validateConnectorShape(c);
  state.connectors.push(c);
  ctx.created(c.guid);
  return [connectorRow(c)];
};

const setOutboundConnector = (ctx: CmdletContext): Row[] => {
  const { state, params, now } = ctx;
  const identity = str(params, "Identity", true)!;
  const current = requireConnector(ctx, identity);
  const next: SimConnector = { ...current };
  const newName = str(params, "Name");
  if (newName !== undefined) {
    checkName(newName);
    const clash = nameTaken(state, newName);
    if (clash && clash !== current) throw alreadyExists(newName);
    next.name = newName;
  }
  applyConnectorParams(next, params);
  validateConnectorShape(next);
  // Source: Set-OutboundConnector.md (-IsValidated, -LastValidationTimestamp, -ValidationRecipients);
  // Validate-OutboundConnector.md: these are what mark a connector validated. Other changes keep them.
  next.isValidated = bool(params, "IsValidated") ?? next.isValidated;
  if (has(params, "LastValidationTimestamp")) {
    const v = params["LastValidationTimestamp"];
    if (v === null || v === "") next.lastValidationTimestamp = null;
    else {
      const t = typeof v === "string" || typeof v === "number" ? new Date(v) : new Date(Number.NaN);
      if (Number.isNaN(t.getTime())) throw badValue("LastValidationTimestamp", v);
      next.lastValidationTimestamp = t.toISOString();
    }
  }
  if (has(params, "ValidationRecipients")) {
    const recipients = list(params, "ValidationRecipients") ?? [];
    for (const r of recipients) checkSmtp("ValidationRecipients", r);
    next.validationRecipients = recipients;
  }
  Object.assign(current, next, { whenChanged: now });
  return [];
};

const TEST_MODE_HIDDEN =
  "There is at least one test mode connector which is not included in the result. Please use -IncludeTestModeConnectors to view test mode connectors.";

/**
 * Test-mode connectors are left out unless -IncludeTestModeConnectors $true, which lists only
 * them; a listing that leaves some out warns. -IsTransportRuleScoped, when given, lists only
 * connectors scoped that way. Sources: Get-OutboundConnector.md (-IncludeTestModeConnectors "$true:
 * Only Outbound connectors that are in test mode", "$false: All Outbound connectors that aren't in
 * test mode ... the default"; -IsTransportRuleScoped); the warning's text: timmcmic/DLConversionV2
 * issue #159. Assumed: the same filters with -Identity (a filtered-out connector is not found), and
 * no IsTransportRuleScoped filter when the parameter is not given.
 */
const getOutboundConnector = (ctx: CmdletContext): Row[] => {
  const { params } = ctx;
  const testMode = bool(params, "IncludeTestModeConnectors") ?? false;
  const scoped = bool(params, "IsTransportRuleScoped");
  const shown = (c: SimConnector) =>
    c.testMode === testMode && (scoped === undefined || c.isTransportRuleScoped === scoped);
  const identity = str(params, "Identity");
  if (identity !== undefined) {
    const c = requireConnector(ctx, identity);
    if (!shown(c)) throw notFound(identity, ctx.state);
    return [connectorRow(c)];
  }
  const visible = ctx.state.connectors.filter((c) => !ctx.notYetReplicated(c.guid));
  if (!testMode && visible.some((c) => c.testMode)) ctx.warn(TEST_MODE_HIDDEN);
  return limitRows(ctx, visible.filter(shown).map(connectorRow));
};

const removeOutboundConnector = (ctx: CmdletContext): Row[] => {
  const identity = str(ctx.params, "Identity", true)!;
  const c = requireConnector(ctx, identity);
  ctx.state.connectors.splice(ctx.state.connectors.indexOf(c), 1);
  return [];
};

function covered(domains: string[], address: string): boolean {
  const domain = domainOf(address);
  return domains.some((d) => {
    if (d === "*") return true;
    if (d.startsWith("*."))
      return same(domain, d.slice(2)) || domain.endsWith(`.${d.slice(2).toLowerCase()}`);
    return same(domain, d);
  });
}

/**
 * Two tasks (connectivity to the smart hosts, a test message), one row each, answered in a
 * 200 whether they pass or not. Does not mark the connector validated.
 * Sources: Validate-OutboundConnector.md (the two tests; "Recipients need to be in the domain
 * that's configured on the connector"; "does not set the validation status or timestamp");
 * rows `TaskName`, `IsTaskSuccessful`: seen in public scripts (docs/m365-fidelity.md); `Error` and the
 * task names, the failure texts and the 200-with-failed-rows shape: assumed.
 */
const validateOutboundConnector = (ctx: CmdletContext): Row[] => {
  const { params, behaviours } = ctx;
  const identity = str(params, "Identity", true)!;
  const recipients = list(params, "Recipients") ?? [];
  if (recipients.length === 0) throw missing("Recipients");
  for (const r of recipients) checkSmtp("Recipients", r);
  const c = requireConnector(ctx, identity);
  if (c.recipientDomains.length > 0) {
    const outside = recipients.filter((r) => !covered(c.recipientDomains, r));
    if (outside.length > 0) {
      throw new CmdletError(
        400,
        EXCEPTION.TASK_ARGUMENT,
        `The recipients ${outside.join(", ")} aren't in a domain the connector "${c.name}" routes to (${c.recipientDomains.join(", ")}). Specify recipients in the connector's RecipientDomains.`,
      );
    }
  }
  c.validations += 1;
  const hosts = c.useMxRecord ? recipients.map((r) => `MX of ${domainOf(r)}`) : c.smartHosts;
  const refused = c.smartHosts.filter((h) => behaviours.validation.refuseHosts.includes(h.toLowerCase()));
  const lagging = c.validations <= behaviours.validation.lag;
  let connect: string | null = null;
  let send: string | null = null;
  if (!c.enabled) {
    connect = `The connector "${c.name}" is disabled; couldn't connect to ${hosts.join(", ")}.`;
    send = `450 4.4.317 Cannot connect to remote server ${hosts.join(", ")}: the connector is disabled.`;
  } else if (refused.length > 0) {
    connect = `Couldn't connect to ${refused.join(", ")}: 421 4.4.316 Connection refused.`;
    send = `450 4.4.317 Cannot connect to remote server ${refused.join(", ")}.`;
  } else if (behaviours.validation.fail) {
    connect = `Couldn't connect to ${hosts.join(", ")} over TLS.`;
    send = `450 4.4.317 Cannot connect to remote server ${hosts.join(", ")}; validation failed.`;
  } else if (lagging) {
    send = "The connector isn't available yet. Wait a few minutes and validate again.";
  }
  return [
    { TaskName: "Check connectivity to smart hosts", IsTaskSuccessful: connect === null, Error: connect },
    { TaskName: "Send test email", IsTaskSuccessful: send === null, Error: send },
  ];
};

const CONNECTOR_PARAMETERS = [
  "Name",
  "AllAcceptedDomains",
  "CloudServicesMailEnabled",
  "Comment",
  "ConnectorSource",
  "ConnectorType",
  "Enabled",
  "IsTransportRuleScoped",
  "LinkForModifiedConnector",
  "MtaStsMode",
  "RecipientDomains",
  "RouteAllMessagesViaOnPremises",
  "SenderRewritingEnabled",
  "SmartHosts",
  "SmtpDaneMode",
  "TestMode",
  "TlsDomain",
  "TlsSettings",
  "UseMXRecord",
];

// Parameter lists. Source: SYNTAX of New-/Set-/Get-/Remove-/Validate-OutboundConnector.md in
// MicrosoftDocs/office-docs-powershell. New-OutboundConnector has no ValidationRecipients (docs/m365-fidelity.md).
export const CONNECTOR_CMDLETS: CmdletDefinition[] = [
  {
    name: "Get-OutboundConnector",
    parameters: ["Identity", "IncludeTestModeConnectors", "IsTransportRuleScoped", "ResultSize"],
    shouldProcess: false,
    run: getOutboundConnector,
  },
  {
    name: "New-OutboundConnector",
    parameters: CONNECTOR_PARAMETERS,
    shouldProcess: true,
    run: newOutboundConnector,
  },
  {
    name: "Set-OutboundConnector",
    parameters: [
      "Identity",
      // Source: Set-OutboundConnector.md's SYNTAX has no LinkForModifiedConnector (New's only).
      ...CONNECTOR_PARAMETERS.filter((name) => name !== "LinkForModifiedConnector"),
      "IsValidated",
      "LastValidationTimestamp",
      "ValidationRecipients",
    ],
    shouldProcess: true,
    run: setOutboundConnector,
  },
  {
    name: "Remove-OutboundConnector",
    parameters: ["Identity"],
    shouldProcess: true,
    run: removeOutboundConnector,
  },
  {
    name: "Validate-OutboundConnector",
    parameters: ["Identity", "Recipients"],
    shouldProcess: true,
    run: validateOutboundConnector,
  },
];
