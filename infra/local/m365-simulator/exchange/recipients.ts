/**
 * Recipients, accepted domains, distribution groups and their members: identity resolution
 * (and its ambiguity), the rows Exchange returns, and the cmdlets.
 */
import { newRecipient, type SimRecipient, type TenantState } from "../state.ts";
import {
  bare,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  checkSmtp,
  domainOf,
  EXCEPTION,
  limitRows,
  list,
  notFound,
  oneOf,
  type Row,
  required,
  same,
  str,
} from "./invoke.ts";

const RECIPIENT_TYPES = [
  "UserMailbox",
  "SharedMailbox",
  "MailUser",
  "MailContact",
  "MailUniversalDistributionGroup",
  "MailUniversalSecurityGroup",
  "DynamicDistributionGroup",
  "GroupMailbox",
] as const;

const MAILBOX_TYPES = new Set(["UserMailbox", "SharedMailbox", "RoomMailbox", "EquipmentMailbox"]);
const GROUP_TYPES = new Set([
  "MailUniversalDistributionGroup",
  "MailUniversalSecurityGroup",
  "DynamicDistributionGroup",
  "GroupMailbox",
]);
export const isMailbox = (r: SimRecipient) => MAILBOX_TYPES.has(r.recipientTypeDetails);
/** Any kind of group: distribution, mail-enabled security, dynamic, Microsoft 365. */
export const isAnyGroup = (r: SimRecipient) => GROUP_TYPES.has(r.recipientTypeDetails);
/** What Get-DistributionGroup finds: distribution and mail-enabled security groups only. */
export const isDistributionGroup = (r: SimRecipient) =>
  r.recipientTypeDetails === "MailUniversalDistributionGroup" ||
  r.recipientTypeDetails === "MailUniversalSecurityGroup";

// ---- identity resolution -------------------------------------------------------------------

/**
 * Every recipient an identity names: GUID, ExternalDirectoryObjectId, Name, Alias,
 * WindowsLiveID/UPN, or any proxy address (primary or secondary).
 * Source: "You can use any value that uniquely identifies the recipient: Name, Alias, DN,
 * Canonical DN, Email address, GUID" (Get-Recipient.md, Add-DistributionGroupMember.md in
 * MicrosoftDocs/office-docs-powershell); UPN/ExternalDirectoryObjectId: assumed.
 */
export function matchRecipients(state: TenantState, identity: string, filter = (_: SimRecipient) => true) {
  const id = bare(identity);
  return state.recipients.filter(
    (r) =>
      filter(r) &&
      (same(r.guid, id) ||
        same(r.externalDirectoryObjectId ?? r.guid, id) ||
        same(r.name, id) ||
        same(r.alias, id) ||
        (r.userPrincipalName !== undefined && same(r.userPrincipalName, id)) ||
        same(r.primarySmtpAddress, id) ||
        r.emailAddresses.some((a) => same(bare(a), id))),
  );
}

/**
 * The one recipient an identity names, undefined when none; more than one is Exchange's
 * ambiguity error. Source: `ManagementObjectAmbiguousException|The operation couldn't be
 * performed because object: '<x>' matches multiple entries.` (KelvinTegelaar/CIPP-API PR #1568,
 * CyberDrain/CIPP issue #244; status 400 assumed).
 */
export function findRecipient(
  state: TenantState,
  identity: string,
  filter = (_: SimRecipient) => true,
): SimRecipient | undefined {
  const found = matchRecipients(state, identity, filter);
  if (found.length > 1) throw ambiguous(identity);
  return found[0];
}

export function ambiguous(identity: string): CmdletError {
  return new CmdletError(
    400,
    EXCEPTION.AMBIGUOUS,
    `The operation couldn't be performed because object: '${identity}' matches multiple entries.`,
    "Ex9E65A2",
  );
}

/** Couldn't find the object a parameter names (Members, Member, ManagedBy). */
export function memberNotFound(member: string): CmdletError {
  return new CmdletError(
    404,
    EXCEPTION.NOT_FOUND,
    `Couldn't find object "${member}". Please make sure that it was spelled correctly or specify a different object.`,
    "Ex94914C",
  );
}

export function resolveMember(state: TenantState, member: string): SimRecipient {
  const r = findRecipient(state, member);
  if (!r) throw memberNotFound(member);
  return r;
}

export function isAcceptedDomain(state: TenantState, address: string): boolean {
  const domain = domainOf(address);
  return state.acceptedDomains.some((d) => same(d.domainName, domain));
}

function findGroup(state: TenantState, identity: string): SimRecipient | undefined {
  return findRecipient(state, identity, isDistributionGroup);
}

// ---- rows ------------------------------------------------------------------------------------

const RECIPIENT_TYPE: Record<string, string> = {
  SharedMailbox: "UserMailbox",
  GroupMailbox: "MailUniversalDistributionGroup",
};
const SIGNS_IN = new Set(["UserMailbox", "SharedMailbox", "MailUser"]);

/** The identity properties every recipient row carries (Get-Recipient, Get-DistributionGroupMember). */
export function recipientRow(r: SimRecipient): Row {
  const upn = SIGNS_IN.has(r.recipientTypeDetails) ? (r.userPrincipalName ?? null) : null;
  return {
    Identity: r.alias,
    Name: r.name,
    Alias: r.alias,
    DisplayName: r.displayName,
    PrimarySmtpAddress: r.primarySmtpAddress,
    RecipientType: RECIPIENT_TYPE[r.recipientTypeDetails] ?? r.recipientTypeDetails,
    RecipientTypeDetails: r.recipientTypeDetails,
    EmailAddresses: [...r.emailAddresses],
    ExternalEmailAddress: r.externalEmailAddress ?? null,
    WindowsLiveID: upn,
    UserPrincipalName: upn,
    ExternalDirectoryObjectId: r.externalDirectoryObjectId ?? r.guid,
    Guid: r.guid,
  };
}

function groupRow(state: TenantState, r: SimRecipient): Row {
  const owners = (r.managedBy ?? [])
    .map((guid) => state.recipients.find((x) => x.guid === guid)?.name)
    .filter((n): n is string => n !== undefined);
  return {
    ...recipientRow(r),
    Identity: r.name,
    GroupType:
      r.recipientTypeDetails === "MailUniversalSecurityGroup" ? "Universal, SecurityEnabled" : "Universal",
    ManagedBy: owners.length === 0 ? null : owners,
    MemberJoinRestriction: "Closed",
    MemberDepartRestriction: "Closed",
  };
}

// ---- Get-Recipient ---------------------------------------------------------------------------

const FILTERABLE: Record<string, (r: SimRecipient) => string[]> = {
  primarysmtpaddress: (r) => [r.primarySmtpAddress],
  emailaddresses: (r) => r.emailAddresses.flatMap((a) => [a, bare(a)]),
  recipienttypedetails: (r) => [r.recipientTypeDetails],
  recipienttype: (r) => [String(recipientRow(r).RecipientType)],
  alias: (r) => [r.alias],
  name: (r) => [r.name],
  displayname: (r) => [r.displayName],
  externaldirectoryobjectid: (r) => [r.externalDirectoryObjectId ?? r.guid],
  windowsliveid: (r) => (r.userPrincipalName ? [r.userPrincipalName] : []),
};

/**
 * A subset of OPATH: `Property -eq 'value'` clauses joined by `-and`. Anything else is refused
 * rather than guessed (stricter than Exchange, never more lenient). Source: Get-Recipient.md
 * (-Filter takes OPATH); the subset is ours.
 */
function parseFilter(filter: string): (r: SimRecipient) => boolean {
  const clauses = filter
    .trim()
    .replace(/^\{\s*|\s*\}$/g, "")
    .replace(/^\(\s*|\s*\)$/g, "")
    .split(/\s+-and\s+/i);
  const tests = clauses.map((clause) => {
    const m = /^\(?\s*([A-Za-z]+)\s+-(eq|ne)\s+(?:'([^']*)'|"([^"]*)")\s*\)?$/i.exec(clause.trim());
    const read = m ? FILTERABLE[m[1]!.toLowerCase()] : undefined;
    if (!m || !read) {
      throw new CmdletError(
        400,
        EXCEPTION.PARAMETER_BINDING,
        `Cannot bind parameter 'Filter' to the target. Exception setting "Filter": "Invalid filter syntax. For a description of the filter parameter syntax see the command help. "${filter}" at position 1."`,
      );
    }
    const value = m[3] ?? m[4] ?? "";
    const eq = m[2]!.toLowerCase() === "eq";
    return (r: SimRecipient) => read(r).some((v) => same(v, value)) === eq;
  });
  return (r) => tests.every((t) => t(r));
}

const getRecipient = (ctx: CmdletContext): Row[] => {
  const { state, params } = ctx;
  const identity = str(params, "Identity");
  const types = list(params, "RecipientTypeDetails");
  for (const t of types ?? []) oneOf({ RecipientTypeDetails: t }, "RecipientTypeDetails", RECIPIENT_TYPES);
  const filter = str(params, "Filter");
  let rows = identity === undefined ? state.recipients : matchRecipients(state, identity);
  if (identity !== undefined && rows.length > 1) throw ambiguous(identity);
  if (types) rows = rows.filter((r) => types.some((t) => same(t, r.recipientTypeDetails)));
  if (filter !== undefined) rows = rows.filter(parseFilter(filter));
  if (identity !== undefined && rows.length === 0) throw notFound(identity, state);
  return limitRows(ctx, rows).map(recipientRow);
};

// ---- Get-AcceptedDomain ----------------------------------------------------------------------

const getAcceptedDomain = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity");
  const domains =
    identity === undefined
      ? state.acceptedDomains
      : [
          required(
            state.acceptedDomains.find((d) => same(d.name, identity) || same(d.domainName, identity)),
            identity,
            state,
          ),
        ];
  return domains.map((d) => ({
    Identity: d.name,
    Name: d.name,
    DomainName: d.domainName,
    DomainType: d.domainType,
    Default: d.default,
    InitialDomain: d.initial,
    MatchSubDomains: false,
  }));
};

// ---- distribution groups ---------------------------------------------------------------------

/**
 * Member types a distribution group takes. Source: Add-DistributionGroupMember.md / New-
 * DistributionGroup.md (-Members): mailboxes, mail users, mail contacts, distribution and
 * mail-enabled security groups; not Microsoft 365 groups. Dynamic groups: assumed refused.
 */
const MEMBER_TYPES = new Set([
  "UserMailbox",
  "SharedMailbox",
  "RoomMailbox",
  "EquipmentMailbox",
  "MailUser",
  "MailContact",
  "MailUniversalDistributionGroup",
  "MailUniversalSecurityGroup",
]);
/** Owners must be a mailbox, mail user or mail-enabled security group. Source: New-DistributionGroup.md (-ManagedBy). */
const OWNER_TYPES = new Set(["UserMailbox", "SharedMailbox", "MailUser", "MailUniversalSecurityGroup"]);
/** Source: New-DistributionGroup.md (-Members): "maximum of 10000 entries". */
const MAX_MEMBERS_AT_CREATION = 10_000;

function checkMemberType(r: SimRecipient, member: string, group: string): void {
  if (!MEMBER_TYPES.has(r.recipientTypeDetails)) {
    // Text assumed.
    throw new CmdletError(
      400,
      EXCEPTION.TASK_ARGUMENT,
      `"${member}" (${r.recipientTypeDetails}) can't be a member of the group "${group}". Only mailboxes, mail users, mail contacts, distribution groups and mail-enabled security groups can be members.`,
    );
  }
}

/**
 * Changing a group someone owns (ManagedBy) needs -BypassSecurityGroupManagerCheck when the
 * caller isn't an owner (an app never is). Source: Add-DistributionGroupMember.md /
 * Remove-DistributionGroup.md (-BypassSecurityGroupManagerCheck); exception class and text
 * recalled from Exchange, assumed. Groups without owners are left alone (assumed).
 */
function checkManager(group: SimRecipient, params: Record<string, unknown>): void {
  if ((group.managedBy ?? []).length === 0) return;
  if (bool(params, "BypassSecurityGroupManagerCheck") === true) return;
  throw new CmdletError(
    400,
    "Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException",
    `You don't have sufficient permissions. This operation can only be performed by a manager of the group "${group.name}".`,
  );
}

const newDistributionGroup = ({ state, params }: CmdletContext): Row[] => {
  const name = str(params, "Name", true)!;
  checkName(name);
  const displayName = str(params, "DisplayName") ?? name;
  // Source: New-DistributionGroup.md (DisplayName defaults to Name); 256 characters: assumed.
  if (displayName.length > 256) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The length of the property is too long. The maximum length is 256 and the length of the value provided is ${displayName.length}.`,
    );
  }
  const type = oneOf(params, "Type", ["Distribution", "Security"] as const) ?? "Distribution";
  const givenAlias = str(params, "Alias");
  if (givenAlias !== undefined && givenAlias.length > 64) checkName(givenAlias);
  const alias = (givenAlias ?? name).replace(/[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]/g, "").slice(0, 64);
  const defaultDomain = state.acceptedDomains.find((d) => d.default)?.domainName ?? state.domain;
  const address = bare(str(params, "PrimarySmtpAddress") ?? `${alias}@${defaultDomain}`);
  checkSmtp("PrimarySmtpAddress", address);
  // Source: assumed text; a primary address must be in an accepted domain of the organisation
  // (Exchange's email address policy / proxy address validation, OfficeDocs-Exchange accepted-domains docs).
  if (!isAcceptedDomain(state, address)) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The email address "${address}" isn't correct. The domain "${domainOf(address)}" isn't an accepted domain for your organization.`,
    );
  }
  if (state.recipients.some((r) => same(r.name, name))) {
    throw new CmdletError(
      400,
      EXCEPTION.ALREADY_EXISTS,
      `The name "${name}" is already being used. Please try another name.`,
      "Ex5A1B07",
    );
  }
  if (state.recipients.some((r) => r.emailAddresses.some((a) => same(bare(a), address)))) {
    throw new CmdletError(
      400,
      EXCEPTION.PROXY_EXISTS,
      `The proxy address "SMTP:${address}" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.`,
    );
  }
  const memberIds = list(params, "Members") ?? [];
  if (memberIds.length > MAX_MEMBERS_AT_CREATION) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The Members parameter takes at most ${MAX_MEMBERS_AT_CREATION} entries; use Add-DistributionGroupMember for more.`,
    );
  }
  const members = memberIds.map((m) => {
    const r = resolveMember(state, m);
    checkMemberType(r, m, name);
    return r.guid;
  });
  const owners = (list(params, "ManagedBy") ?? []).map((m) => {
    const r = resolveMember(state, m);
    if (!OWNER_TYPES.has(r.recipientTypeDetails)) {
      // Text assumed.
      throw new CmdletError(
        400,
        EXCEPTION.TASK_ARGUMENT,
        `"${m}" can't be an owner of the group: owners must be mailboxes, mail users or mail-enabled security groups.`,
      );
    }
    return r.guid;
  });
  const group = newRecipient({
    alias,
    name,
    address,
    type: type === "Security" ? "MailUniversalSecurityGroup" : "MailUniversalDistributionGroup",
  });
  group.displayName = displayName;
  group.members = [...new Set(members)];
  group.managedBy = [...new Set(owners)];
  state.recipients.push(group);
  return [groupRow(state, group)];
};

const getDistributionGroup = (ctx: CmdletContext): Row[] => {
  const { state, params } = ctx;
  const identity = str(params, "Identity");
  if (identity === undefined)
    return limitRows(ctx, state.recipients.filter(isDistributionGroup)).map((g) => groupRow(state, g));
  return [groupRow(state, required(findGroup(state, identity), identity, state))];
};

const removeDistributionGroup = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity", true)!;
  const group = required(findGroup(state, identity), identity, state);
  checkManager(group, params);
  state.recipients.splice(state.recipients.indexOf(group), 1);
  for (const r of state.recipients) if (r.members) r.members = r.members.filter((m) => m !== group.guid);
  return [];
};

const getDistributionGroupMember = (ctx: CmdletContext): Row[] => {
  const { state, params } = ctx;
  const identity = str(params, "Identity", true)!;
  const group = required(findGroup(state, identity), identity, state);
  const members = (group.members ?? [])
    .map((guid) => state.recipients.find((r) => r.guid === guid))
    .filter((r): r is SimRecipient => r !== undefined);
  return limitRows(ctx, members).map(recipientRow);
};

/**
 * Source: `Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException` (KelvinTegelaar/CIPP-API
 * Modules/CIPPCore/Public/Get-NormalizedError.ps1); text assumed.
 */
const addDistributionGroupMember = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity", true)!;
  const member = str(params, "Member", true)!;
  const group = required(findGroup(state, identity), identity, state);
  const r = resolveMember(state, member);
  checkMemberType(r, member, group.name);
  checkManager(group, params);
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

/** Source: assumed (docs/m365-fidelity.md, G8). */
const removeDistributionGroupMember = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity", true)!;
  const member = str(params, "Member", true)!;
  const group = required(findGroup(state, identity), identity, state);
  const r = resolveMember(state, member);
  checkManager(group, params);
  if (!group.members?.includes(r.guid)) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
      `The recipient "${r.primarySmtpAddress}" isn't a member of the group "${group.name}".`,
      "Ex8A3D4C",
    );
  }
  group.members = group.members.filter((m) => m !== r.guid);
  return [];
};

// Parameter lists. Source: SYNTAX of each cmdlet page, MicrosoftDocs/office-docs-powershell
// exchange/exchange-ps/exchange/<Cmdlet>.md (Exchange Online parameter sets).
export const RECIPIENT_CMDLETS: CmdletDefinition[] = [
  {
    name: "Get-Recipient",
    parameters: [
      "Identity",
      "ResultSize",
      "RecipientTypeDetails",
      "Filter",
      "RecipientType",
      "Anr",
      "SortBy",
      "Properties",
      "PropertySets",
      "IncludeSoftDeletedRecipients",
      "BookmarkDisplayName",
      "IncludeBookmarkObject",
      "Capabilities",
      "RecipientPreviewFilter",
    ],
    shouldProcess: false,
    run: getRecipient,
  },
  {
    name: "Get-AcceptedDomain",
    parameters: ["Identity", "ResultSize"],
    shouldProcess: false,
    run: getAcceptedDomain,
  },
  {
    name: "Get-DistributionGroup",
    parameters: [
      "Identity",
      "ResultSize",
      "Anr",
      "Filter",
      "ManagedBy",
      "OrganizationalUnit",
      "RecipientTypeDetails",
      "SortBy",
      "IncludeAcceptMessagesOnlyFromWithDisplayNames",
      "IncludeGrantSendOnBehalfToWithDisplayNames",
      "IncludeManagedByWithDisplayNames",
      "IncludeModeratedByWithDisplayNames",
      "IncludeBypassModerationFromSendersOrMembersWithDisplayNames",
      "IncludeRejectMessagesFromWithDisplayNames",
      "IncludeAcceptMessagesOnlyFromSendersOrMembersWithDisplayNames",
      "IncludeAcceptMessagesOnlyFromDLMembersWithDisplayNames",
      "IncludeRejectMessagesFromDLMembersWithDisplayNames",
      "IncludeRejectMessagesFromSendersOrMembersWithDisplayNames",
    ],
    shouldProcess: false,
    run: getDistributionGroup,
  },
  {
    name: "New-DistributionGroup",
    parameters: [
      "Name",
      "DisplayName",
      "Alias",
      "PrimarySmtpAddress",
      "Type",
      "Members",
      "ManagedBy",
      "BypassNestedModerationEnabled",
      "CopyOwnerToMember",
      "Description",
      "HiddenGroupMembershipEnabled",
      "IgnoreNamingPolicy",
      "MemberDepartRestriction",
      "MemberJoinRestriction",
      "ModeratedBy",
      "ModerationEnabled",
      "Notes",
      "OrganizationalUnit",
      "RequireSenderAuthenticationEnabled",
      "RoomList",
      "SendModerationNotifications",
    ],
    shouldProcess: true,
    run: newDistributionGroup,
  },
  {
    name: "Remove-DistributionGroup",
    parameters: ["Identity", "BypassSecurityGroupManagerCheck"],
    shouldProcess: true,
    run: removeDistributionGroup,
  },
  {
    name: "Get-DistributionGroupMember",
    parameters: ["Identity", "ResultSize", "IncludeSoftDeletedObjects"],
    shouldProcess: false,
    run: getDistributionGroupMember,
  },
  {
    name: "Add-DistributionGroupMember",
    parameters: ["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    shouldProcess: true,
    run: addDistributionGroupMember,
  },
  {
    name: "Remove-DistributionGroupMember",
    parameters: ["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    shouldProcess: true,
    run: removeDistributionGroupMember,
  },
];
