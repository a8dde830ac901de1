/**
 * Recipients and accepted domains: identity resolution (and its ambiguity), the rows Exchange
 * returns, Get-Recipient and Get-AcceptedDomain. Distribution groups: distribution-groups.ts.
 */
import type { SimRecipient, TenantState } from "../state.ts";
import {
  bare,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
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
      "PropertySet",
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
];
