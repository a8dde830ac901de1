/**
 * Exchange Online's role-based access for the app: the Entra role Exchange Administrator (every
 * cmdlet), or service principals (New-ServicePrincipal) that are members of role groups holding
 * management roles. A cmdlet outside the caller's roles is refused before it runs; a parameter
 * outside them is unknown to the binder. Also the cmdlets that set this up and read it back:
 * `*-ServicePrincipal`, `New-/Get-RoleGroup`, `*-RoleGroupMember`, `Get-ManagementRole`,
 * `Get-ManagementRoleAssignment`.
 *
 * This is the simulator's own model of Exchange's roles, kept apart from the product's table
 * (functions/domain/permissions.ts) on purpose: a test that grants the product's roles here
 * checks the product's table against this one.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ExchangeBehaviours } from "../behaviours.ts";
import type { SimRoleGroup, SimServicePrincipal, TenantState } from "../state.ts";
import {
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  EXCEPTION,
  list,
  type Params,
  type Row,
  same,
  str,
} from "./invoke.ts";

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

// ---- cmdlets ------------------------------------------------------------------------------

const spRow = (p: SimServicePrincipal): Row => ({
  Identity: p.objectId,
  Name: p.objectId,
  DisplayName: p.displayName,
  AppId: p.appId,
  ObjectId: p.objectId,
  // Source: New-ServicePrincipal.md names the Entra object id ServiceId in its older examples.
  ServiceId: p.objectId,
});

const groupRow = (g: SimRoleGroup): Row => ({
  Identity: g.name,
  Name: g.name,
  DisplayName: g.name,
  Guid: g.guid,
  Description: g.description,
  Roles: [...g.roles],
  Members: [...g.members],
  RoleGroupType: "Standard",
});

function findServicePrincipal(state: TenantState, identity: string): SimServicePrincipal | undefined {
  return state.servicePrincipals.find(
    (p) => same(p.objectId, identity) || same(p.appId, identity) || same(p.displayName, identity),
  );
}

function notFoundIn(kind: string, identity: string): CmdletError {
  return new CmdletError(
    404,
    EXCEPTION.NOT_FOUND,
    `The operation couldn't be performed because ${kind} '${identity}' couldn't be found.`,
  );
}

function findGroup(state: TenantState, identity: string): SimRoleGroup {
  const g = state.roleGroups.find((x) => same(x.name, identity) || same(x.guid, identity));
  if (!g) throw notFoundIn("object", identity);
  return g;
}

function knownRole(role: string): string {
  const name = Object.keys(ROLE_CMDLETS).find((r) => same(r, role));
  if (!name) throw notFoundIn("management role", role);
  return name;
}

function memberId(state: TenantState, member: string): string {
  const sp = findServicePrincipal(state, member);
  if (!sp) throw notFoundIn("object", member);
  return sp.objectId;
}

// Source: New-ServicePrincipal.md (AppId, ObjectId/ServiceId, DisplayName); duplicates refused (assumed text).
const newServicePrincipal = ({ state, params }: CmdletContext): Row[] => {
  const appId = str(params, "AppId", true)!;
  const objectId = str(params, "ObjectId") ?? str(params, "ServiceId", true)!;
  if (state.servicePrincipals.some((p) => same(p.appId, appId) || same(p.objectId, objectId))) {
    throw new CmdletError(
      400,
      EXCEPTION.ALREADY_EXISTS,
      `A service principal with AppId '${appId}' already exists.`,
    );
  }
  const sp = { appId, objectId, displayName: str(params, "DisplayName") ?? appId };
  state.servicePrincipals.push(sp);
  return [spRow(sp)];
};

const getServicePrincipal = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.servicePrincipals.map(spRow);
  const sp = findServicePrincipal(state, identity);
  if (!sp) throw notFoundIn("object", identity);
  return [spRow(sp)];
};

const removeServicePrincipal = ({ state, params }: CmdletContext): Row[] => {
  const sp = findServicePrincipal(state, str(params, "Identity", true)!);
  if (!sp) throw notFoundIn("object", str(params, "Identity", true)!);
  state.servicePrincipals = state.servicePrincipals.filter((p) => p !== sp);
  for (const g of state.roleGroups) g.members = g.members.filter((m) => !same(m, sp.objectId));
  return [];
};

// Source: New-RoleGroup.md (Name, Roles, Members, Description, DisplayName).
const newRoleGroup = ({ state, params }: CmdletContext): Row[] => {
  const name = str(params, "Name", true)!;
  checkName(name);
  if (state.roleGroups.some((g) => same(g.name, name))) {
    throw new CmdletError(400, EXCEPTION.ALREADY_EXISTS, `The role group '${name}' already exists.`);
  }
  const group: SimRoleGroup = {
    guid: randomUUID(),
    name,
    description: str(params, "Description") ?? "",
    roles: (list(params, "Roles") ?? []).map(knownRole),
    members: (list(params, "Members") ?? []).map((m) => memberId(state, m)),
  };
  state.roleGroups.push(group);
  return [groupRow(group)];
};

const getRoleGroup = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity");
  return identity === undefined ? state.roleGroups.map(groupRow) : [groupRow(findGroup(state, identity))];
};

// Source: Add-RoleGroupMember.md; an existing member is an error (assumed text).
const addRoleGroupMember = ({ state, params }: CmdletContext): Row[] => {
  const group = findGroup(state, str(params, "Identity", true)!);
  const id = memberId(state, str(params, "Member", true)!);
  if (group.members.some((m) => same(m, id))) {
    throw new CmdletError(
      400,
      "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
      `The recipient "${id}" is already a member of the group "${group.name}".`,
    );
  }
  group.members.push(id);
  return [];
};

const removeRoleGroupMember = ({ state, params }: CmdletContext): Row[] => {
  const group = findGroup(state, str(params, "Identity", true)!);
  const id = memberId(state, str(params, "Member", true)!);
  group.members = group.members.filter((m) => !same(m, id));
  return [];
};

const getRoleGroupMember = ({ state, params }: CmdletContext): Row[] =>
  findGroup(state, str(params, "Identity", true)!).members.map((id) => {
    const sp = state.servicePrincipals.find((p) => same(p.objectId, id));
    return { Identity: id, Name: sp?.displayName ?? id, RecipientTypeDetails: "ServicePrincipal" };
  });

// Source: Get-ManagementRole.md (-Cmdlet: the roles that hold the cmdlet).
const getManagementRole = ({ params }: CmdletContext): Row[] => {
  const cmdlet = str(params, "Cmdlet");
  const identity = str(params, "Identity");
  return Object.entries(ROLE_CMDLETS)
    .filter(
      ([role, cmdlets]) =>
        (identity === undefined || same(role, identity)) &&
        (cmdlet === undefined || cmdlets.some((c) => same(c, cmdlet))),
    )
    .map(([role]) => ({
      Identity: role,
      Name: role,
      RoleType: role.replace(/[^A-Za-z]/g, ""),
      IsRootRole: true,
    }));
};

// Source: Get-ManagementRoleAssignment.md (-RoleAssignee, -Role; RoleAssigneeType RoleGroup).
const getManagementRoleAssignment = ({ state, params }: CmdletContext): Row[] => {
  const assignee = str(params, "RoleAssignee");
  const role = str(params, "Role");
  const sp = assignee === undefined ? undefined : findServicePrincipal(state, assignee);
  return state.roleGroups
    .filter(
      (g) =>
        assignee === undefined ||
        same(g.name, assignee) ||
        (sp !== undefined && g.members.some((m) => same(m, sp.objectId))),
    )
    .flatMap((g) =>
      g.roles
        .filter((r) => role === undefined || same(r, role))
        .map((r) => ({
          Identity: `${r}-${g.name}`,
          Name: `${r}-${g.name}`,
          Role: r,
          RoleAssignee: g.name,
          RoleAssigneeName: g.name,
          RoleAssigneeType: "RoleGroup",
          Enabled: true,
          ...(sp ? { EffectiveUserName: sp.objectId } : {}),
        })),
    );
};

// Source: New-ManagementRoleAssignment.md (-SecurityGroup: a role group gets the role); only
// that form is modelled (direct assignments to a user or an app are not).
const newManagementRoleAssignment = ({ state, params }: CmdletContext): Row[] => {
  const role = knownRole(str(params, "Role", true)!);
  const group = findGroup(state, str(params, "SecurityGroup", true)!);
  if (group.roles.some((r) => same(r, role))) {
    throw new CmdletError(
      400,
      EXCEPTION.ALREADY_EXISTS,
      `The role assignment '${role}-${group.name}' already exists.`,
    );
  }
  group.roles.push(role);
  return [
    {
      Identity: `${role}-${group.name}`,
      Name: `${role}-${group.name}`,
      Role: role,
      RoleAssignee: group.name,
      RoleAssigneeType: "RoleGroup",
    },
  ];
};

// Source: SYNTAX of each cmdlet page in MicrosoftDocs/office-docs-powershell (ExchangePowerShell).
export const RBAC_CMDLETS: CmdletDefinition[] = [
  {
    name: "New-ManagementRoleAssignment",
    parameters: [
      "Role",
      "SecurityGroup",
      "Name",
      "CustomRecipientWriteScope",
      "CustomResourceScope",
      "RecipientOrganizationalUnitScope",
    ],
    shouldProcess: true,
    run: newManagementRoleAssignment,
  },
  {
    name: "New-ServicePrincipal",
    parameters: ["AppId", "ObjectId", "ServiceId", "DisplayName", "Organization"],
    shouldProcess: true,
    run: newServicePrincipal,
  },
  {
    name: "Get-ServicePrincipal",
    parameters: ["Identity", "Organization"],
    shouldProcess: false,
    run: getServicePrincipal,
  },
  {
    name: "Remove-ServicePrincipal",
    parameters: ["Identity"],
    shouldProcess: true,
    run: removeServicePrincipal,
  },
  {
    name: "New-RoleGroup",
    parameters: ["Name", "Roles", "Members", "Description", "DisplayName", "ManagedBy"],
    shouldProcess: true,
    run: newRoleGroup,
  },
  {
    name: "Get-RoleGroup",
    parameters: ["Identity", "Filter", "SortBy", "ResultSize"],
    shouldProcess: false,
    run: getRoleGroup,
  },
  {
    name: "Add-RoleGroupMember",
    parameters: ["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    shouldProcess: true,
    run: addRoleGroupMember,
  },
  {
    name: "Remove-RoleGroupMember",
    parameters: ["Identity", "Member", "BypassSecurityGroupManagerCheck"],
    shouldProcess: true,
    run: removeRoleGroupMember,
  },
  {
    name: "Get-RoleGroupMember",
    parameters: ["Identity", "ResultSize"],
    shouldProcess: false,
    run: getRoleGroupMember,
  },
  {
    name: "Get-ManagementRole",
    parameters: ["Identity", "Cmdlet", "CmdletParameters", "RoleType", "Recurse", "GetChildren"],
    shouldProcess: false,
    run: getManagementRole,
  },
  {
    name: "Get-ManagementRoleAssignment",
    parameters: ["Identity", "Role", "RoleAssignee", "RoleAssigneeType", "GetEffectiveUsers", "Enabled"],
    shouldProcess: false,
    run: getManagementRoleAssignment,
  },
];
