/**
 * The cmdlets that set up and read back the app's Exchange roles (the model is rbac.ts's):
 * `*-ServicePrincipal`, `New-/Get-RoleGroup`, `*-RoleGroupMember`, `Get-ManagementRole`,
 * `Get-ManagementRoleAssignment`, `New-ManagementRoleAssignment`.
 */
import { randomUUID } from "node:crypto";
import type { SimRoleGroup, SimServicePrincipal, TenantState } from "../state.ts";
import {
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  EXCEPTION,
  list,
  type Row,
  same,
  str,
} from "./invoke.ts";
import { ROLE_CMDLETS } from "./rbac.ts";

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
