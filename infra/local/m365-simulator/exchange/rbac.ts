/**
 * Exchange Online's role-based access for the app: the Entra role Exchange Administrator (every
 * cmdlet), or service principals (New-ServicePrincipal) that are members of role groups holding
 * management roles. A cmdlet outside the caller's roles is refused before it runs; a parameter
 * outside them is unknown to the binder. The cmdlets that set this up and read it back are
 * role-groups.ts's.
 *
 * This is the simulator's own model of Exchange's roles, kept apart from the product's table
 * (functions/domain/permissions.ts) on purpose: a test that grants the product's roles here
 * checks the product's table against this one.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ExchangeBehaviours } from "../behaviours.ts";
import type { TenantState } from "../state.ts";
import { CmdletError, EXCEPTION, type Params, same } from "./invoke.ts";

/**
 * Management role -> cmdlets it holds (what `Get-ManagementRole -Cmdlet` reflects). Sources:
 * the roles Microsoft365DSC / the Graph UTCM pages list per resource
 * (microsoftgraph/microsoft-graph-docs-contrib: concepts/utcm/exchange/microsoft.exchange.{outboundconnector,
 * journalrule,transportconfig,accepteddomain,distributiongroup}.md) and OfficeDocs-Exchange
 * permissions-exo/feature-permissions.md; the exact per-cmdlet split is assumed (docs/m365-fidelity.md A3).
 */
export const ROLE_CMDLETS: Readonly<Record<string, readonly string[]>> = {
  "View-Only Configuration": [
    "Get-OutboundConnector",
    "Get-TransportConfig",
    "Get-AcceptedDomain",
    "Get-JournalRule",
    "Get-OrganizationConfig",
    "Get-ServicePrincipal",
    "Get-RoleGroup",
    "Get-RoleGroupMember",
    "Get-ManagementRole",
    "Get-ManagementRoleAssignment",
  ],
  "View-Only Recipients": ["Get-Recipient", "Get-DistributionGroup", "Get-DistributionGroupMember"],
  "Mail Recipients": ["Get-Recipient"],
  "Remote and Accepted Domains": [
    "Get-OutboundConnector",
    "New-OutboundConnector",
    "Set-OutboundConnector",
    "Remove-OutboundConnector",
    "Validate-OutboundConnector",
    "Get-AcceptedDomain",
  ],
  "Organization Transport Settings": ["Get-TransportConfig", "Set-TransportConfig"],
  Journaling: [
    "Get-JournalRule",
    "New-JournalRule",
    "Set-JournalRule",
    "Enable-JournalRule",
    "Disable-JournalRule",
    "Remove-JournalRule",
    "Get-TransportConfig",
  ],
  "Distribution Groups": [
    "Get-DistributionGroup",
    "New-DistributionGroup",
    "Set-DistributionGroup",
    "Remove-DistributionGroup",
    "Get-DistributionGroupMember",
    "Add-DistributionGroupMember",
    "Remove-DistributionGroupMember",
    "Get-Recipient",
  ],
  // Source: Add-DistributionGroupMember.md, BypassSecurityGroupManagerCheck ("the Security Group
  // Creation and Membership role"); it holds the switch, not the cmdlets.
  "Security Group Creation and Membership": [],
  "Organization Configuration": ["Get-OrganizationConfig", "Enable-OrganizationCustomization"],
  "Role Management": [
    "New-ServicePrincipal",
    "Get-ServicePrincipal",
    "Remove-ServicePrincipal",
    "New-RoleGroup",
    "Get-RoleGroup",
    "Add-RoleGroupMember",
    "Remove-RoleGroupMember",
    "Get-RoleGroupMember",
    "Get-ManagementRole",
    "Get-ManagementRoleAssignment",
    "New-ManagementRoleAssignment",
  ],
};

/** Parameters that only some roles hold: used without one of them, the binder does not know them. */
const PARAMETER_ROLES: Readonly<Record<string, string>> = {
  BypassSecurityGroupManagerCheck: "Security Group Creation and Membership",
};

/** The caller's access: everything (Exchange Administrator) or the roles of its role groups. */
export type Access = { all: true } | { all: false; roles: Set<string> };

/** The app's access in this tenant. */
export function accessOf(state: TenantState, appId: string): Access {
  if (state.appExchangeAdministrator) return { all: true };
  const sp = state.servicePrincipals.find((p) => same(p.appId, appId));
  const roles = new Set<string>();
  if (sp) {
    for (const group of state.roleGroups) {
      if (group.members.some((m) => same(m, sp.objectId))) for (const r of group.roles) roles.add(r);
    }
  }
  return { all: false, roles };
}

/** The cmdlets (of `known`) the access allows, in `known` order. */
export function allowedCmdlets(access: Access, known: readonly string[]): string[] {
  if (access.all) return [...known];
  const allowed = new Set<string>();
  for (const role of access.roles) for (const c of ROLE_CMDLETS[role] ?? []) allowed.add(c.toLowerCase());
  return known.filter((c) => allowed.has(c.toLowerCase()));
}

/**
 * Refuses a cmdlet outside the caller's roles, and a role-bound parameter the caller lacks.
 * The answer for a cmdlet (behaviour `deniedCmdletAnswer`): "not-allowed" (default), the REST
 * API's 401 `User is not allowed to call <cmdlet>` (MicrosoftDocs/office-docs-powershell issues
 * #7970 and #8058, answered by the module's REST endpoint); or "not-recognized", PowerShell's
 * CommandNotFoundException text (what the module prints, app-only-auth-powershell-v2.md and
 * office-developer-exchange-docs issue #300), as a 400 (assumed).
 */
export function authorize(
  access: Access,
  cmdlet: string,
  params: Params,
  behaviours: ExchangeBehaviours,
): void {
  if (access.all) return;
  if (allowedCmdlets(access, [cmdlet]).length === 0) {
    if (behaviours.deniedCmdletAnswer === "not-recognized") {
      throw new CmdletError(
        400,
        EXCEPTION.COMMAND_NOT_FOUND,
        `The term '${cmdlet}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
        "CommandNotFoundException",
      );
    }
    throw new CmdletError(401, NOT_ALLOWED, `User is not allowed to call ${cmdlet}`, "Unauthorized");
  }
  for (const name of Object.keys(params)) {
    const role = Object.entries(PARAMETER_ROLES).find(([p]) => same(p, name))?.[1];
    // Source: every cmdlet page, "you may not have access to some parameters if they're not
    // included in the permissions assigned to you"; the binder's text (assumed for this case).
    if (role && !access.roles.has(role)) {
      throw new CmdletError(
        400,
        EXCEPTION.PARAMETER_BINDING,
        `A parameter cannot be found that matches parameter name '${name}'.`,
        "NamedParameterNotFound",
      );
    }
  }
}

/** Marks a 401 refusal whose body is the REST API's short form (see `deniedBody`). */
export const NOT_ALLOWED = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException";

/** The body of a "not allowed" refusal, as issues #7970/#8058 show it (no `details`). */
export function deniedBody(message: string): unknown {
  return { error: { code: "Unauthorized", message, innererror: { message, type: NOT_ALLOWED } } };
}

/** The object id of the app's service principal in a tenant (stable per tenant and app). */
export function servicePrincipalObjectId(tenantId: string, appId: string): string {
  const h = createHash("sha256").update(`${tenantId.toLowerCase()}|${appId.toLowerCase()}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The role group the simulator's control API manages for the app (`setAppRoles`). */
export const SIM_ROLE_GROUP = "Simulator app roles";

/**
 * Sets the app's access as a customer's admin would: Exchange Administrator on or off, and
 * (with `roles`) a role group holding exactly those roles with the app's service principal
 * registered and a member (no roles: the group is removed).
 */
export function setAppRoles(
  state: TenantState,
  appId: string,
  access: { exchangeAdministrator?: boolean; roles?: string[] },
): void {
  if (access.exchangeAdministrator !== undefined)
    state.appExchangeAdministrator = access.exchangeAdministrator;
  if (access.roles === undefined) return;
  for (const role of access.roles) {
    if (!Object.hasOwn(ROLE_CMDLETS, role)) throw new Error(`unknown management role: ${role}`);
  }
  const objectId = servicePrincipalObjectId(state.tenantId, appId);
  if (!state.servicePrincipals.some((p) => same(p.appId, appId))) {
    state.servicePrincipals.push({ appId, objectId, displayName: "Journal onboarding (simulator)" });
  }
  state.roleGroups = state.roleGroups.filter((g) => g.name !== SIM_ROLE_GROUP);
  if (access.roles.length > 0) {
    state.roleGroups.push({
      guid: randomUUID(),
      name: SIM_ROLE_GROUP,
      description: "Roles granted through the simulator's control API",
      roles: [...new Set(access.roles)],
      members: [objectId],
    });
  }
}
