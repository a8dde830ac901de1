/**
 * Least privilege in the customer's tenant: which Exchange cmdlets a tenant's onboarding and
 * offboarding run, which management role holds each one, and what is missing when the app may
 * not run some of them. Pure data and rules; the PowerShell that grants them is in
 * `permissions-script.ts`, the sources and confidence of each mapping in docs/m365-fidelity.md
 * (rows A3-A6).
 */
import type { RegionMode } from "./provider.ts";

/**
 * What decides the cmdlets a tenant needs: the request's region and outbound gateway (typed
 * here, not taken from the tenant, so that the tenant can name a MissingPermission).
 */
export interface PermissionScope {
  region: RegionMode;
  outboundGateway: boolean;
}

/** The Exchange management roles the app needs (a custom role group holds exactly these). */
export const MANAGEMENT_ROLES = [
  "View-Only Configuration",
  "View-Only Recipients",
  "Remote and Accepted Domains",
  "Organization Transport Settings",
  "Journaling",
  "Distribution Groups",
  "Security Group Creation and Membership",
] as const;
export type ManagementRole = (typeof MANAGEMENT_ROLES)[number];

/** What each role is for, in the product's words (the script's comments and docs/real-tenant.md). */
export const ROLE_PURPOSE: Readonly<Record<ManagementRole, string>> = {
  "View-Only Configuration":
    "read outbound connectors, journal rules, the transport settings and the accepted domains",
  "View-Only Recipients": "read the NDR address's recipient, the EU/US groups and their members",
  "Remote and Accepted Domains": "create, change, validate and remove the outbound connector",
  "Organization Transport Settings": "set (and on offboarding restore) JournalingReportNdrTo",
  Journaling: "create, change, enable, disable and remove the journal rules",
  "Distribution Groups": "create and remove the EU/US groups and add or remove their members",
  "Security Group Creation and Membership":
    "-BypassSecurityGroupManagerCheck: change the members of groups the app does not own",
};

/**
 * The management role that holds each cmdlet the product runs (what `Get-ManagementRole
 * -Cmdlet <name>` is expected to list; docs/m365-fidelity.md A3 says which are assumed).
 * Enable-OrganizationCustomization is left out on purpose: it is needed only by a dehydrated
 * organisation, and the customer's admin can run it once instead of granting its role.
 */
export const CMDLET_ROLES: Readonly<Record<string, ManagementRole>> = {
  "Get-OutboundConnector": "View-Only Configuration",
  "Get-TransportConfig": "View-Only Configuration",
  "Get-AcceptedDomain": "View-Only Configuration",
  "Get-JournalRule": "View-Only Configuration",
  "Get-Recipient": "View-Only Recipients",
  "Get-DistributionGroup": "View-Only Recipients",
  "Get-DistributionGroupMember": "View-Only Recipients",
  "New-OutboundConnector": "Remote and Accepted Domains",
  "Set-OutboundConnector": "Remote and Accepted Domains",
  "Validate-OutboundConnector": "Remote and Accepted Domains",
  "Remove-OutboundConnector": "Remote and Accepted Domains",
  "Set-TransportConfig": "Organization Transport Settings",
  "New-JournalRule": "Journaling",
  "Set-JournalRule": "Journaling",
  "Enable-JournalRule": "Journaling",
  "Disable-JournalRule": "Journaling",
  "Remove-JournalRule": "Journaling",
  "New-DistributionGroup": "Distribution Groups",
  "Set-DistributionGroup": "Distribution Groups",
  "Remove-DistributionGroup": "Distribution Groups",
  "Add-DistributionGroupMember": "Distribution Groups",
  "Remove-DistributionGroupMember": "Distribution Groups",
};

/**
 * Parameters held by a role of their own: without it, Exchange's binder does not know them ("A
 * parameter cannot be found that matches parameter name ...").
 */
export const PARAMETER_ROLES: Readonly<Record<string, ManagementRole>> = {
  // Source: Add-DistributionGroupMember.md, BypassSecurityGroupManagerCheck.
  BypassSecurityGroupManagerCheck: "Security Group Creation and Membership",
};

/** Roles of cmdlets outside the role group, named when Exchange refuses them. */
const OTHER_CMDLET_ROLES: Readonly<Record<string, string>> = {
  "Enable-OrganizationCustomization": "Organization Configuration",
};

/** The role that holds a cmdlet (case-insensitive), when known. */
export function roleOf(cmdlet: string): string | undefined {
  const key = Object.keys({ ...CMDLET_ROLES, ...OTHER_CMDLET_ROLES }).find(
    (c) => c.toLowerCase() === cmdlet.toLowerCase(),
  );
  return key === undefined ? undefined : (CMDLET_ROLES[key] ?? OTHER_CMDLET_ROLES[key]);
}

const ALWAYS = [
  "Get-Recipient",
  "Get-AcceptedDomain",
  "Get-TransportConfig",
  "Set-TransportConfig",
  "Get-JournalRule",
  "New-JournalRule",
  "Set-JournalRule",
  "Enable-JournalRule",
  "Disable-JournalRule",
  "Remove-JournalRule",
];
const CONNECTOR = [
  "Get-OutboundConnector",
  "New-OutboundConnector",
  "Set-OutboundConnector",
  "Validate-OutboundConnector",
  "Remove-OutboundConnector",
];
const GROUPS = [
  "Get-DistributionGroup",
  "Get-DistributionGroupMember",
  "New-DistributionGroup",
  "Set-DistributionGroup",
  "Remove-DistributionGroup",
  "Add-DistributionGroupMember",
  "Remove-DistributionGroupMember",
];

/**
 * Every cmdlet this tenant's onboarding and offboarding may run: the connector's only with an
 * outbound gateway, the groups' only for `split` (journal rules read a group there too).
 * Offboarding's Remove-* are included so that a tenant that onboards can also be offboarded.
 */
export function requiredCmdlets(request: PermissionScope): string[] {
  return [
    ...ALWAYS,
    ...(request.outboundGateway ? CONNECTOR : []),
    ...(request.region === "split" ? GROUPS : []),
  ];
}

/** One cmdlet the app may not run, and the management role that would allow it. */
export interface MissingPermission {
  cmdlet: string;
  role: string;
}

/**
 * The required cmdlets missing from `available` (the cmdlets Exchange says the app may run),
 * compared case-insensitively, in `requiredCmdlets` order.
 */
export function missingPermissions(
  required: readonly string[],
  available: readonly string[],
): MissingPermission[] {
  const allowed = new Set(available.map((c) => c.trim().toLowerCase()));
  return required
    .filter((cmdlet) => !allowed.has(cmdlet.toLowerCase()))
    .map((cmdlet) => ({ cmdlet, role: roleOf(cmdlet) ?? "unknown" }));
}

/** The roles this tenant's cmdlets need, in MANAGEMENT_ROLES order (the script's role group). */
export function requiredRoles(request: PermissionScope): ManagementRole[] {
  const roles = new Set<string>(requiredCmdlets(request).map((c) => CMDLET_ROLES[c] ?? ""));
  // Adding and removing members of a group the app does not own needs the switch's role.
  if (request.region === "split") roles.add("Security Group Creation and Membership");
  return MANAGEMENT_ROLES.filter((r) => roles.has(r));
}

/** `New-JournalRule (Journaling), Set-TransportConfig (Organization Transport Settings)`. */
export function describeMissing(missing: readonly MissingPermission[]): string {
  return missing.map((m) => `${m.cmdlet} (${m.role})`).join(", ");
}
