/**
 * One simulated Exchange Online organisation: its state and the cmdlets of the M365 port,
 * with the validation the real service applies. Pure and synchronous: the HTTP layer
 * (`server.ts`) turns a thrown {@link CmdletError} into Exchange's OData error body.
 */
import { randomUUID } from "node:crypto";
import type { RegionMode } from "../../../functions/domain/provider.ts";
import type { OnboardingRequest } from "../../../functions/domain/tenant.ts";

/** A cmdlet failure as Exchange reports it: HTTP status, .NET exception type, text. */
export class CmdletError extends Error {
  override readonly name = "CmdletError";
  readonly status: number;
  readonly exceptionType: string;
  readonly errorId: string;
  constructor(status: number, exceptionType: string, message: string, errorId = "Ex6F9304") {
    super(message);
    this.status = status;
    this.exceptionType = exceptionType;
    this.errorId = errorId;
  }
}

const NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const ALREADY_EXISTS = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException";
const INVALID_PARAM = "Microsoft.Exchange.Configuration.Tasks.ParameterBindingException";
const INVALID_ARG = "System.ArgumentException";
const DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException";
export const DEHYDRATED =
  "Microsoft.Exchange.Configuration.Tasks.InvalidOperationInDehydratedContextException";

const TLS_SETTINGS = ["EncryptionOnly", "CertificateValidation", "DomainValidation"] as const;
const CONNECTOR_TYPES = ["Partner", "OnPremises"] as const;
const JOURNAL_SCOPES = ["Global", "Internal", "External"] as const;
const SMTP = /^[^@\s<>()[\]\\,;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** Exchange's limit on Name for connectors, rules and groups. */
export const MAX_NAME_LENGTH = 64;

export interface SimConnector {
  guid: string;
  name: string;
  comment: string;
  connectorType: string;
  recipientDomains: string[];
  smartHosts: string[];
  useMxRecord: boolean;
  tlsSettings: string | null;
  enabled: boolean;
  validationRecipients: string[];
  isValidated: boolean;
  lastValidationTimestamp: string | null;
  /** Validations run since creation; the lag setting fails the first ones. */
  validations: number;
  whenCreated: string;
  whenChanged: string;
}

export interface SimRecipient {
  guid: string;
  name: string;
  alias: string;
  displayName: string;
  primarySmtpAddress: string;
  /** UserMailbox, MailUniversalDistributionGroup, GroupMailbox, ... */
  recipientTypeDetails: string;
  emailAddresses: string[];
  /** Guids of members, for groups. */
  members?: string[];
  /** True for what the simulator seeded; the rest was created through cmdlets. */
  seeded?: boolean;
}

export interface SimJournalRule {
  guid: string;
  name: string;
  journalEmailAddress: string;
  scope: string;
  recipient: string | null;
  enabled: boolean;
}

/** Everything the simulator keeps for one tenant (serialisable). */
export interface TenantState {
  tenantId: string;
  domain: string;
  displayName: string;
  consented: boolean;
  dehydrated: boolean;
  journalingReportNdrTo: string | null;
  connectors: SimConnector[];
  journalRules: SimJournalRule[];
  recipients: SimRecipient[];
}

/** How Validate-OutboundConnector behaves: `lag` first validations after creation fail; `fail` all do. */
export interface ValidationBehaviour {
  lag: number;
  fail: boolean;
}

export type Params = Record<string, unknown>;
type Row = Record<string, unknown>;

/** The seeded mailboxes and group of a lazily created tenant (see {@link demoMailboxes}). */
export interface DemoMailboxes {
  domain: string;
  admin: string;
  alice: string;
  bob: string;
  /** A distribution group with alice and bob, and its name. */
  group: { name: string; address: string; members: string[] };
  /** A Microsoft 365 group (a team): a GroupMailbox, never acceptable as NDR address. */
  team: { name: string; address: string };
}

/** The addresses every lazily created simulated tenant starts with. */
export function demoMailboxes(tenantId: string): DemoMailboxes {
  const short = `t${tenantId
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(0, 8)
    .toLowerCase()}`;
  const domain = `${short}.onmicrosoft.com`;
  return {
    domain,
    admin: `admin@${domain}`,
    alice: `alice@${domain}`,
    bob: `bob@${domain}`,
    group: {
      name: "All Staff",
      address: `allstaff@${domain}`,
      members: [`alice@${domain}`, `bob@${domain}`],
    },
    team: { name: "Project Team", address: `projectteam@${domain}` },
  };
}

export function newTenantState(tenantId: string, consented: boolean, dehydrated: boolean): TenantState {
  const demo = demoMailboxes(tenantId);
  const user = (alias: string, displayName: string): SimRecipient =>
    recipient(alias, displayName, `${alias}@${demo.domain}`, "UserMailbox", true);
  const users = [user("admin", "Administrator"), user("alice", "Alice Martin"), user("bob", "Bob Jones")];
  const group = recipient(
    "allstaff",
    demo.group.name,
    demo.group.address,
    "MailUniversalDistributionGroup",
    true,
  );
  group.members = [users[1]!.guid, users[2]!.guid];
  const team = recipient("projectteam", demo.team.name, demo.team.address, "GroupMailbox", true);
  team.members = [users[0]!.guid];
  return {
    tenantId,
    domain: demo.domain,
    displayName: `Simulated tenant ${demo.domain}`,
    consented,
    dehydrated,
    journalingReportNdrTo: null,
    connectors: [],
    journalRules: [],
    recipients: [...users, group, team],
  };
}

function recipient(
  alias: string,
  displayName: string,
  address: string,
  recipientTypeDetails: string,
  seeded = false,
): SimRecipient {
  return {
    guid: randomUUID(),
    name: displayName,
    alias,
    displayName,
    primarySmtpAddress: address,
    recipientTypeDetails,
    emailAddresses: [`SMTP:${address}`],
    ...(seeded ? { seeded } : {}),
  };
}

const WRITE_VERBS = new Set(["New", "Set", "Remove", "Add", "Enable", "Disable"]);

/** Whether a cmdlet changes the organisation's configuration (Get-* and Validate-* do not). */
export function isWriteCmdlet(cmdlet: string): boolean {
  return WRITE_VERBS.has(cmdlet.split("-")[0] ?? "");
}

/**
 * Runs one cmdlet against a tenant. Returns the rows Exchange would return (PascalCase), or
 * throws {@link CmdletError}. `now` is injectable for repeatable output.
 */
export function runCmdlet(
  state: TenantState,
  cmdlet: string,
  params: Params,
  validation: ValidationBehaviour,
  now = new Date(),
): Row[] {
  const handler = CMDLETS[cmdlet.toLowerCase()];
  if (!handler) {
    throw new CmdletError(
      400,
      "System.Management.Automation.CommandNotFoundException",
      `The term '${cmdlet}' is not recognized as a name of a cmdlet available to this application.`,
    );
  }
  if (
    state.dehydrated &&
    isWriteCmdlet(cmdlet) &&
    cmdlet.toLowerCase() !== "enable-organizationcustomization"
  ) {
    throw new CmdletError(
      400,
      DEHYDRATED,
      "The operation on this object isn't allowed because the organization is dehydrated. Run Enable-OrganizationCustomization if you need to create or modify objects in your organization.",
      "ExBA8FEF",
    );
  }
  return handler({ state, params, validation, now: now.toISOString() });
}

interface Ctx {
  state: TenantState;
  params: Params;
  validation: ValidationBehaviour;
  now: string;
}

// ---- parameter helpers -------------------------------------------------------------------

function param(p: Params, name: string): unknown {
  const key = Object.keys(p).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : p[key];
}
function has(p: Params, name: string): boolean {
  return Object.keys(p).some((k) => k.toLowerCase() === name.toLowerCase());
}
function str(p: Params, name: string, required = false): string | undefined {
  const v = param(p, name);
  if (v === undefined || v === null || v === "") {
    if (required) throw missing(name);
    return undefined;
  }
  if (typeof v !== "string") throw badValue(name, v);
  return v;
}
function bool(p: Params, name: string): boolean | undefined {
  const v = param(p, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false|\$true|\$false)$/i.test(v)) return /true/i.test(v);
  throw badValue(name, v);
}
/** Multivalued parameters accept one value or an array, as PowerShell does. */
function list(p: Params, name: string): string[] | undefined {
  const v = param(p, name);
  if (v === undefined || v === null) return undefined;
  const items = Array.isArray(v) ? v : [v];
  for (const item of items) if (typeof item !== "string") throw badValue(name, item);
  return (items as string[]).map((s) => s.trim()).filter((s) => s.length > 0);
}
function oneOf<T extends string>(p: Params, name: string, allowed: readonly T[]): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const match = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!match) {
    throw new CmdletError(
      400,
      INVALID_PARAM,
      `Cannot process argument transformation on parameter '${name}'. Cannot convert value "${v}" to type. Error: "Unable to match the identifier name ${v} to a valid enumerator name. Specify one of the following enumerator names and try again: ${allowed.join(", ")}"`,
    );
  }
  return match;
}
function missing(name: string): CmdletError {
  return new CmdletError(
    400,
    INVALID_PARAM,
    `Cannot process command because of one or more missing mandatory parameters: ${name}.`,
  );
}
function badValue(name: string, v: unknown): CmdletError {
  return new CmdletError(
    400,
    INVALID_PARAM,
    `Cannot bind parameter '${name}' to the value ${JSON.stringify(v)}.`,
  );
}
function checkName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw new CmdletError(
      400,
      DATA_VALIDATION,
      `The length of the property is too long. The maximum length is ${MAX_NAME_LENGTH} and the length of the value provided is ${name.length}.`,
    );
  }
}
function checkSmtp(name: string, value: string): void {
  if (!SMTP.test(value.replace(/^smtp:/i, ""))) {
    throw new CmdletError(
      400,
      DATA_VALIDATION,
      `"${value}" isn't a valid SMTP address for parameter ${name}.`,
    );
  }
}
function notFound(identity: string, state: TenantState): CmdletError {
  return new CmdletError(
    404,
    NOT_FOUND,
    `The operation couldn't be performed because object '${identity}' couldn't be found on '${state.domain.toUpperCase()}.PROD.OUTLOOK.COM'.`,
  );
}
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const bare = (address: string) => address.replace(/^smtp:/i, "");

// ---- lookups -----------------------------------------------------------------------------

function findConnector(state: TenantState, identity: string): SimConnector | undefined {
  return state.connectors.find((c) => same(c.name, identity) || same(c.guid, identity));
}
function findRule(state: TenantState, identity: string): SimJournalRule | undefined {
  return state.journalRules.find((r) => same(r.name, identity) || same(r.guid, identity));
}
function findRecipient(state: TenantState, identity: string): SimRecipient | undefined {
  const id = bare(identity.trim());
  return state.recipients.find(
    (r) =>
      same(r.guid, id) ||
      same(r.name, id) ||
      same(r.alias, id) ||
      same(r.primarySmtpAddress, id) ||
      r.emailAddresses.some((a) => same(bare(a), id)),
  );
}
const isGroup = (r: SimRecipient) => r.members !== undefined && r.recipientTypeDetails !== "GroupMailbox";
function findGroup(state: TenantState, identity: string): SimRecipient | undefined {
  const r = findRecipient(state, identity);
  return r && isGroup(r) ? r : undefined;
}
function required<T>(value: T | undefined, identity: string, state: TenantState): T {
  if (value === undefined) throw notFound(identity, state);
  return value;
}

// ---- output shapes (what the REST API returns) --------------------------------------------

/** Empty multivalued properties come back as null, as Exchange serialises them. */
const multi = (values: string[]) => (values.length === 0 ? null : [...values]);

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
    TlsDomain: null,
    Enabled: c.enabled,
    IsTransportRuleScoped: false,
    RouteAllMessagesViaOnPremises: false,
    AllAcceptedDomains: false,
    CloudServicesMailEnabled: false,
    TestMode: false,
    ValidationRecipients: multi(c.validationRecipients),
    IsValidated: c.isValidated,
    LastValidationTimestamp: c.lastValidationTimestamp,
    WhenCreatedUTC: c.whenCreated,
    WhenChangedUTC: c.whenChanged,
  };
}

function recipientRow(r: SimRecipient): Row {
  return {
    Identity: r.alias,
    Name: r.name,
    Alias: r.alias,
    DisplayName: r.displayName,
    PrimarySmtpAddress: r.primarySmtpAddress,
    RecipientType:
      r.recipientTypeDetails === "GroupMailbox" ? "MailUniversalDistributionGroup" : r.recipientTypeDetails,
    RecipientTypeDetails: r.recipientTypeDetails,
    EmailAddresses: [...r.emailAddresses],
    ExternalDirectoryObjectId: r.guid,
    Guid: r.guid,
  };
}

function groupRow(r: SimRecipient): Row {
  return {
    ...recipientRow(r),
    Identity: r.name,
    GroupType:
      r.recipientTypeDetails === "MailUniversalSecurityGroup" ? "Universal, SecurityEnabled" : "Universal",
    ManagedBy: null,
    MemberJoinRestriction: "Closed",
    MemberDepartRestriction: "Closed",
  };
}

function ruleRow(r: SimJournalRule): Row {
  return {
    Identity: r.name,
    Name: r.name,
    Guid: r.guid,
    JournalEmailAddress: r.journalEmailAddress,
    Scope: r.scope,
    Recipient: r.recipient,
    Enabled: r.enabled,
    IsValid: true,
  };
}

// ---- cmdlets -----------------------------------------------------------------------------

type Handler = (ctx: Ctx) => Row[];

function validateConnectorShape(
  c: Pick<SimConnector, "useMxRecord" | "smartHosts" | "connectorType" | "recipientDomains">,
) {
  if (!c.useMxRecord && c.smartHosts.length === 0) {
    throw new CmdletError(
      400,
      DATA_VALIDATION,
      "SmartHosts must be specified when UseMXRecord is set to false. Specify at least one smart host or set UseMXRecord to true.",
    );
  }
  if (c.useMxRecord && c.smartHosts.length > 0) {
    throw new CmdletError(
      400,
      DATA_VALIDATION,
      "SmartHosts can't be specified when UseMXRecord is set to true. Remove the smart hosts or set UseMXRecord to false.",
    );
  }
  for (const host of c.smartHosts) {
    if (!HOST.test(host.replace(/^\[|\]$/g, ""))) {
      throw new CmdletError(400, DATA_VALIDATION, `"${host}" isn't a valid smart host.`);
    }
  }
  for (const domain of c.recipientDomains) {
    if (!HOST.test(domain)) throw new CmdletError(400, DATA_VALIDATION, `"${domain}" isn't a valid domain.`);
  }
  if (c.connectorType === "Partner" && c.recipientDomains.length === 0) {
    throw new CmdletError(
      400,
      DATA_VALIDATION,
      "A Partner connector must have RecipientDomains, or be scoped by a transport rule (IsTransportRuleScoped).",
    );
  }
}

function applyConnectorParams(c: SimConnector, p: Params): void {
  const comment = str(p, "Comment");
  if (has(p, "Comment")) c.comment = comment ?? "";
  c.connectorType = oneOf(p, "ConnectorType", CONNECTOR_TYPES) ?? c.connectorType;
  c.recipientDomains = list(p, "RecipientDomains") ?? (has(p, "RecipientDomains") ? [] : c.recipientDomains);
  c.smartHosts = list(p, "SmartHosts") ?? (has(p, "SmartHosts") ? [] : c.smartHosts);
  c.useMxRecord = bool(p, "UseMXRecord") ?? c.useMxRecord;
  if (has(p, "TlsSettings")) c.tlsSettings = oneOf(p, "TlsSettings", TLS_SETTINGS) ?? null;
  c.enabled = bool(p, "Enabled") ?? c.enabled;
  c.validationRecipients = list(p, "ValidationRecipients") ?? c.validationRecipients;
}

const newOutboundConnector: Handler = ({ state, params, now }) => {
  const name = str(params, "Name", true)!;
  checkName(name);
  if (findConnector(state, name)) {
    throw new CmdletError(
      400,
      ALREADY_EXISTS,
      `An outbound connector with the name "${name}" already exists.`,
    );
  }
  const c: SimConnector = {
    guid: randomUUID(),
    name,
    comment: "",
    connectorType: "Partner",
    recipientDomains: [],
    smartHosts: [],
    useMxRecord: true,
    tlsSettings: null,
    enabled: true,
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
  return [connectorRow(c)];
};

const setOutboundConnector: Handler = ({ state, params, now }) => {
  const identity = str(params, "Identity", true)!;
  const current = required(findConnector(state, identity), identity, state);
  const next: SimConnector = { ...current };
  const newName = str(params, "Name");
  if (newName !== undefined) {
    checkName(newName);
    const clash = findConnector(state, newName);
    if (clash && clash !== current) {
      throw new CmdletError(
        400,
        ALREADY_EXISTS,
        `An outbound connector with the name "${newName}" already exists.`,
      );
    }
    next.name = newName;
  }
  applyConnectorParams(next, params);
  validateConnectorShape(next);
  Object.assign(current, next, { whenChanged: now, isValidated: false });
  return [];
};

const getOutboundConnector: Handler = ({ state, params }) => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.connectors.map(connectorRow);
  return [connectorRow(required(findConnector(state, identity), identity, state))];
};

const removeOutboundConnector: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const c = required(findConnector(state, identity), identity, state);
  state.connectors.splice(state.connectors.indexOf(c), 1);
  return [];
};

const validateOutboundConnector: Handler = ({ state, params, validation, now }) => {
  const identity = str(params, "Identity", true)!;
  const recipients = list(params, "Recipients") ?? [];
  if (recipients.length === 0) throw missing("Recipients");
  for (const r of recipients) checkSmtp("Recipients", r);
  const c = required(findConnector(state, identity), identity, state);
  c.validations += 1;
  const lagging = c.validations <= validation.lag;
  const ok = c.enabled && !validation.fail && !lagging;
  const hosts = c.smartHosts.join(", ");
  c.isValidated = ok;
  c.lastValidationTimestamp = now;
  c.validationRecipients = recipients;
  return [
    {
      Task: "Check connectivity to smart hosts",
      Status: ok || lagging ? "Succeeded" : "Failed",
      Details: ok || lagging ? `Connected to ${hosts} over TLS.` : `Couldn't connect to ${hosts}.`,
    },
    {
      Task: "Send test email",
      Status: ok ? "Succeeded" : "Failed",
      Details: ok
        ? `Test email sent to ${recipients.join(", ")}.`
        : lagging
          ? "The connector isn't available yet. Wait a few minutes and validate again."
          : `450 4.4.317 Cannot connect to remote server; ${c.enabled ? "validation failed" : "the connector is disabled"}.`,
    },
  ];
};

const getTransportConfig: Handler = ({ state }) => [
  {
    Identity: "Transport Settings",
    Name: "Transport Settings",
    // Exchange shows an unset SmtpAddress as "<>".
    JournalingReportNdrTo: state.journalingReportNdrTo ?? "<>",
    MaxSendSize: "35 MB (36,700,160 bytes)",
    MaxReceiveSize: "36 MB (37,748,736 bytes)",
    ExternalDelayDsnEnabled: true,
  },
];

const setTransportConfig: Handler = ({ state, params }) => {
  if (has(params, "JournalingReportNdrTo")) {
    const value = param(params, "JournalingReportNdrTo");
    if (value === null || value === "" || value === "<>") {
      state.journalingReportNdrTo = null;
    } else if (typeof value === "string") {
      checkSmtp("JournalingReportNdrTo", value);
      state.journalingReportNdrTo = bare(value);
    } else {
      throw badValue("JournalingReportNdrTo", value);
    }
  }
  return [];
};

const getRecipient: Handler = ({ state, params }) => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.recipients.map(recipientRow);
  return [recipientRow(required(findRecipient(state, identity), identity, state))];
};

const getOrganizationConfig: Handler = ({ state }) => [
  {
    Identity: state.domain,
    Name: state.domain,
    DisplayName: state.displayName,
    IsDehydrated: state.dehydrated,
    Guid: state.tenantId,
  },
];

const enableOrganizationCustomization: Handler = ({ state }) => {
  if (!state.dehydrated) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Deployment.OrganizationCustomizationAlreadyEnabledException",
      "This operation is not required. Organization is already enabled for customization.",
      "Ex49D38F",
    );
  }
  state.dehydrated = false;
  return [];
};

function checkJournalTarget(state: TenantState, address: string): void {
  checkSmtp("JournalEmailAddress", address);
  const local = findRecipient(state, address);
  if (local?.recipientTypeDetails.endsWith("Mailbox")) {
    throw new CmdletError(
      400,
      INVALID_ARG,
      `The JournalEmailAddress "${address}" is an Exchange Online mailbox. Journal reports can't be delivered to Exchange Online mailboxes.`,
    );
  }
}

function resolveJournalRecipient(state: TenantState, value: string | undefined): string | null {
  if (value === undefined) return null;
  const r = findRecipient(state, value);
  if (!r) throw notFound(value, state);
  return r.primarySmtpAddress;
}

const newJournalRule: Handler = ({ state, params }) => {
  const name = str(params, "Name", true)!;
  const journalEmailAddress = bare(str(params, "JournalEmailAddress", true)!);
  checkName(name);
  if (!state.journalingReportNdrTo) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.MessagingPolicies.Journaling.JournalNdrMailboxNotConfiguredException",
      "Journal rules can't be created until an address for undeliverable journal reports is set. Use Set-TransportConfig -JournalingReportNdrTo to specify the mailbox that receives undeliverable journal reports, then try again.",
      "Ex4B5C3A",
    );
  }
  if (findRule(state, name)) {
    throw new CmdletError(400, ALREADY_EXISTS, `A journal rule with the name "${name}" already exists.`);
  }
  checkJournalTarget(state, journalEmailAddress);
  const rule: SimJournalRule = {
    guid: randomUUID(),
    name,
    journalEmailAddress,
    scope: oneOf(params, "Scope", JOURNAL_SCOPES) ?? "Global",
    recipient: resolveJournalRecipient(state, str(params, "Recipient")),
    // The cmdlet's default: a new journal rule is disabled unless -Enabled $true is given.
    enabled: bool(params, "Enabled") ?? false,
  };
  state.journalRules.push(rule);
  return [ruleRow(rule)];
};

const setJournalRule: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const rule = required(findRule(state, identity), identity, state);
  const next = { ...rule };
  const name = str(params, "Name");
  if (name !== undefined) {
    checkName(name);
    const clash = findRule(state, name);
    if (clash && clash !== rule) {
      throw new CmdletError(400, ALREADY_EXISTS, `A journal rule with the name "${name}" already exists.`);
    }
    next.name = name;
  }
  const address = str(params, "JournalEmailAddress");
  if (address !== undefined) {
    checkJournalTarget(state, bare(address));
    next.journalEmailAddress = bare(address);
  }
  next.scope = oneOf(params, "Scope", JOURNAL_SCOPES) ?? next.scope;
  if (has(params, "Recipient")) next.recipient = resolveJournalRecipient(state, str(params, "Recipient"));
  Object.assign(rule, next);
  return [];
};

const getJournalRule: Handler = ({ state, params }) => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.journalRules.map(ruleRow);
  return [ruleRow(required(findRule(state, identity), identity, state))];
};

const toggleJournalRule =
  (enabled: boolean): Handler =>
  ({ state, params }) => {
    const identity = str(params, "Identity", true)!;
    required(findRule(state, identity), identity, state).enabled = enabled;
    return [];
  };

const removeJournalRule: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const rule = required(findRule(state, identity), identity, state);
  state.journalRules.splice(state.journalRules.indexOf(rule), 1);
  return [];
};

function resolveMember(state: TenantState, member: string): SimRecipient {
  const r = findRecipient(state, member);
  if (!r) {
    throw new CmdletError(
      404,
      NOT_FOUND,
      `Couldn't find object "${member}". Please make sure that it was spelled correctly or specify a different object.`,
    );
  }
  return r;
}

const newDistributionGroup: Handler = ({ state, params }) => {
  const name = str(params, "Name", true)!;
  checkName(name);
  const type = oneOf(params, "Type", ["Distribution", "Security"] as const) ?? "Distribution";
  const alias = (str(params, "Alias") ?? name).replace(/[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]/g, "").slice(0, 64);
  const address = bare(str(params, "PrimarySmtpAddress") ?? `${alias}@${state.domain}`);
  checkSmtp("PrimarySmtpAddress", address);
  if (state.recipients.some((r) => same(r.name, name))) {
    throw new CmdletError(
      400,
      ALREADY_EXISTS,
      `The name "${name}" is already being used. Please try another name.`,
      "Ex5A1B07",
    );
  }
  if (findRecipient(state, address)) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException",
      `The proxy address "SMTP:${address}" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.`,
    );
  }
  const members = (list(params, "Members") ?? []).map((m) => resolveMember(state, m).guid);
  const group = recipient(
    alias,
    name,
    address,
    type === "Security" ? "MailUniversalSecurityGroup" : "MailUniversalDistributionGroup",
  );
  group.displayName = str(params, "DisplayName") ?? name;
  group.members = [...new Set(members)];
  state.recipients.push(group);
  return [groupRow(group)];
};

const getDistributionGroup: Handler = ({ state, params }) => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.recipients.filter(isGroup).map(groupRow);
  return [groupRow(required(findGroup(state, identity), identity, state))];
};

const removeDistributionGroup: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const group = required(findGroup(state, identity), identity, state);
  state.recipients.splice(state.recipients.indexOf(group), 1);
  for (const r of state.recipients) if (r.members) r.members = r.members.filter((m) => m !== group.guid);
  return [];
};

const getDistributionGroupMember: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const group = required(findGroup(state, identity), identity, state);
  return (group.members ?? [])
    .map((guid) => state.recipients.find((r) => r.guid === guid))
    .filter((r): r is SimRecipient => r !== undefined)
    .map(recipientRow);
};

const addDistributionGroupMember: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const member = str(params, "Member", true)!;
  const group = required(findGroup(state, identity), identity, state);
  const r = resolveMember(state, member);
  if (group.members?.includes(r.guid)) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
      `The recipient "${r.primarySmtpAddress}" is already a member of the group "${group.name}".`,
      "ExB0A3F3",
    );
  }
  group.members = [...(group.members ?? []), r.guid];
  return [];
};

const removeDistributionGroupMember: Handler = ({ state, params }) => {
  const identity = str(params, "Identity", true)!;
  const member = str(params, "Member", true)!;
  const group = required(findGroup(state, identity), identity, state);
  const r = resolveMember(state, member);
  if (!group.members?.includes(r.guid)) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
      `The recipient "${r.primarySmtpAddress}" isn't a member of the group "${group.name}".`,
    );
  }
  group.members = group.members.filter((m) => m !== r.guid);
  return [];
};

const CMDLETS: Record<string, Handler> = {
  "get-outboundconnector": getOutboundConnector,
  "new-outboundconnector": newOutboundConnector,
  "set-outboundconnector": setOutboundConnector,
  "remove-outboundconnector": removeOutboundConnector,
  "validate-outboundconnector": validateOutboundConnector,
  "get-transportconfig": getTransportConfig,
  "set-transportconfig": setTransportConfig,
  "get-recipient": getRecipient,
  "get-organizationconfig": getOrganizationConfig,
  "enable-organizationcustomization": enableOrganizationCustomization,
  "get-journalrule": getJournalRule,
  "new-journalrule": newJournalRule,
  "set-journalrule": setJournalRule,
  "enable-journalrule": toggleJournalRule(true),
  "disable-journalrule": toggleJournalRule(false),
  "remove-journalrule": removeJournalRule,
  "get-distributiongroup": getDistributionGroup,
  "new-distributiongroup": newDistributionGroup,
  "remove-distributiongroup": removeDistributionGroup,
  "get-distributiongroupmember": getDistributionGroupMember,
  "add-distributiongroupmember": addDistributionGroupMember,
  "remove-distributiongroupmember": removeDistributionGroupMember,
};

/**
 * A valid onboarding request (the body of `POST /v1/tenants`) for a simulated tenant, built on
 * its demo mailboxes: the admin receives undeliverable journal reports, and in split mode
 * alice is in the EU list, bob and the admin in the US list.
 */
export function demoOnboardingRequest(
  tenantId: string,
  options: { customerName?: string; region?: RegionMode; outboundGateway?: boolean } = {},
): OnboardingRequest {
  const demo = demoMailboxes(tenantId);
  const region = options.region ?? "us";
  return {
    tenantId,
    customerName: options.customerName ?? `cust-${tenantId.slice(0, 8).toLowerCase()}`,
    region,
    outboundGateway: options.outboundGateway ?? false,
    ndrAddress: demo.admin,
    ...(region === "split" && {
      groups: {
        eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
        us: {
          name: "Journal US",
          primarySmtpAddress: `journal-us@${demo.domain}`,
          members: [demo.bob, demo.admin],
        },
      },
    }),
  };
}
