/**
 * Distribution groups and their members: New-/Get-/Remove-DistributionGroup and
 * Get-/Add-/Remove-DistributionGroupMember (identity resolution is recipients.ts's).
 */
import { newRecipient, type SimRecipient, type TenantState } from "../state.ts";
import {
  checkAddressFree,
  checkDisplayName,
  checkGroupAddress,
  checkNameFree,
  setDistributionGroupCmdlet,
} from "./group-names.ts";
import { groupAlias, groupSettingsRow, newGroupSettings } from "./group-settings.ts";
import {
  bare,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  EXCEPTION,
  limitRows,
  list,
  oneOf,
  type Row,
  required,
  same,
  str,
} from "./invoke.ts";
import { findRecipient, isDistributionGroup, recipientRow, resolveMember } from "./recipients.ts";

function findGroup(state: TenantState, identity: string): SimRecipient | undefined {
  return findRecipient(state, identity, isDistributionGroup);
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
    ...groupSettingsRow(r),
  };
}

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
  checkDisplayName(displayName);
  const type = oneOf(params, "Type", ["Distribution", "Security"] as const) ?? "Distribution";
  const alias = groupAlias(params, name);
  const defaultDomain = state.acceptedDomains.find((d) => d.default)?.domainName ?? state.domain;
  const address = bare(str(params, "PrimarySmtpAddress") ?? `${alias}@${defaultDomain}`);
  checkGroupAddress(state, address);
  checkNameFree(state, name);
  checkAddressFree(state, address);
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
  const recipientType = type === "Security" ? "MailUniversalSecurityGroup" : "MailUniversalDistributionGroup";
  const settings = newGroupSettings(params, recipientType);
  const group = newRecipient({ alias, name, address, type: recipientType });
  group.groupSettings = settings;
  group.displayName = displayName;
  group.members = [...new Set(members)];
  group.managedBy = [...new Set(owners)];
  state.recipients.push(group);
  return [groupRow(state, group)];
};

/** Source: Get-DistributionGroup.md (-RecipientTypeDetails: the group subtypes it filters by). */
const GROUP_SUBTYPES = [
  "MailNonUniversalGroup",
  "MailUniversalDistributionGroup",
  "MailUniversalSecurityGroup",
  "RoomList",
] as const;

const getDistributionGroup = (ctx: CmdletContext): Row[] => {
  const { state, params } = ctx;
  const identity = str(params, "Identity");
  const types = (list(params, "RecipientTypeDetails") ?? []).map((t) =>
    oneOf({ RecipientTypeDetails: t }, "RecipientTypeDetails", GROUP_SUBTYPES),
  );
  const asked = (g: SimRecipient) =>
    types.length === 0 || types.some((t) => same(t ?? "", g.recipientTypeDetails));
  if (identity === undefined)
    return limitRows(
      ctx,
      state.recipients.filter((g) => isDistributionGroup(g) && asked(g)),
    ).map((g) => groupRow(state, g));
  // Assumed: the filter holds with -Identity too (a group of another subtype is not found).
  const group = findGroup(state, identity);
  return [groupRow(state, required(group && asked(group) ? group : undefined, identity, state))];
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
export const DISTRIBUTION_GROUP_CMDLETS: CmdletDefinition[] = [
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
      "IncludeAcceptMessagesOnlyFromSendersOrMembersWithDisplayNames",
      "IncludeAcceptMessagesOnlyFromDLMembersWithDisplayNames",
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
  setDistributionGroupCmdlet(checkManager),
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
