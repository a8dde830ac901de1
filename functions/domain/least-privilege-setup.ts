/**
 * Least privilege set up by the customer's admin's own sign-in: what the permissions script does,
 * run once through Exchange's admin API as the signed-in admin (delegated `Exchange.Manage`), so
 * that the app never needs the Exchange Administrator role. In order, each step reads first,
 * writes only what is missing and reads back what it wrote:
 *
 * 1. hydration: a dehydrated organisation gets `Enable-OrganizationCustomization` once (creating a
 *    role group needs it), and the setup stops there, as it does while it still reads dehydrated or
 *    Exchange still refuses a write as dehydrated (applying it takes up to 48 hours, and
 *    `IsDehydrated` may read false meanwhile): the tenant then waits in `awaiting_permissions`,
 *    and the script finishes it;
 * 2. the app's service principal in Exchange (`New-ServicePrincipal`, read back with
 *    `Get-ServicePrincipal`: the cmdlet does not check what it is given);
 * 3. the role group with this tenant's required roles (`New-RoleGroup` with the app as member,
 *    or `New-ManagementRoleAssignment` for each role an existing group lacks), read back;
 * 4. the app as the role group's member (`Add-RoleGroupMember` only when it is not one), read back.
 *
 * Because every step's reads decide what is left, an interrupted setup is finished by the next one
 * or by the script. Nothing here ever throws at the caller: a refusal (an admin without Exchange
 * rights) or a failure is an outcome, and the onboarding goes on as it does without the setup.
 */
import { DehydratedOrganizationError, NotFoundError, ObjectExistsError, toErrorInfo } from "./errors.ts";
import { type ManagementRole, requiredRoles } from "./permissions.ts";
import { ROLE_GROUP_NAME } from "./permissions-script.ts";
import type { OnboardingRequest } from "./tenant.ts";

/** Runs one cmdlet in the customer's tenant as the signed-in admin (the port; rows of every page). */
export type AdminCmdletRunner = (
  cmdlet: string,
  parameters: Record<string, unknown>,
) => Promise<Record<string, unknown>[]>;

export interface LeastPrivilegeInput {
  /** The multi-tenant app's application (client) id. */
  appId: string;
  /** The object id of the app's service principal in this tenant (Entra). */
  servicePrincipalId: string;
  request: Pick<OnboardingRequest, "region" | "outboundGateway">;
}

export type LeastPrivilegeOutcome =
  | { kind: "done"; roles: ManagementRole[]; writes: number }
  | { kind: "hydration-pending"; writes: number }
  /** Exchange refused the admin (no Exchange rights) or a step failed: the script is the way. */
  | { kind: "failed"; step: SetupStep; code: string; message: string; writes: number };

export type SetupStep = "hydration" | "service-principal" | "role-group" | "membership";

const DESCRIPTION = "Journal onboarding service: least-privilege roles for its app.";
const DISPLAY_NAME = "Journal onboarding app";

/** The setup's plan, run in order; see the module comment. */
export async function setUpLeastPrivilege(
  run: AdminCmdletRunner,
  input: LeastPrivilegeInput,
): Promise<LeastPrivilegeOutcome> {
  const counted: AdminCmdletRunner = async (cmdlet, parameters) => {
    if (!/^Get-/i.test(cmdlet)) writes += 1;
    return run(cmdlet, parameters);
  };
  let writes = 0;
  let step: SetupStep = "hydration";
  try {
    // Just asked for, or still dehydrated: writes would be refused for up to 48 hours, even once
    // `IsDehydrated` reads false, so the setup stops here.
    if ((await hydrate(counted)) !== "hydrated") return { kind: "hydration-pending", writes };
    step = "service-principal";
    await ensureServicePrincipal(counted, input);
    step = "role-group";
    const roles = requiredRoles(input.request);
    await ensureRoleGroup(counted, roles, input.servicePrincipalId);
    step = "membership";
    // A group just created has the app as member: the read finds it and nothing is written.
    await ensureMember(counted, input.servicePrincipalId);
    return { kind: "done", roles, writes };
  } catch (err) {
    if (err instanceof DehydratedOrganizationError) {
      // It reads hydrated (customization was enabled), yet Exchange still refuses writes as
      // dehydrated: the change is being applied (up to 48 hours). Never sent again.
      return { kind: "hydration-pending", writes };
    }
    const info = toErrorInfo(err);
    const message = err instanceof SetupVerificationError ? err.message : info.message;
    return { kind: "failed", step, code: info.code, message, writes };
  }
}

/** A setup whose read-back does not show what it wrote (reported as INTERNAL_ERROR with this text). */
export class SetupVerificationError extends Error {
  override readonly name = "SetupVerificationError";
}

/** Enables customization of a dehydrated organisation once; "hydrated" when it already was. */
async function hydrate(run: AdminCmdletRunner): Promise<"hydrated" | "enabled" | "pending"> {
  const dehydrated = async () => (await run("Get-OrganizationConfig", {}))[0]?.["IsDehydrated"] === true;
  if (!(await dehydrated())) return "hydrated";
  try {
    await run("Enable-OrganizationCustomization", {});
    return "enabled";
  } catch {
    // Already asked for (the organisation is still hydrating).
    return "pending";
  }
}

const same = (a: unknown, b: string) => typeof a === "string" && a.toLowerCase() === b.toLowerCase();

/** Absent (`ManagementObjectNotFoundException` and the like) reads as no rows. */
async function readOrNone(
  run: AdminCmdletRunner,
  cmdlet: string,
  parameters: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  try {
    return await run(cmdlet, parameters);
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}

/** A create that finds the object made meanwhile (another sign-in, the script) goes on to the read-back. */
async function created(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
  }
}

async function ensureServicePrincipal(run: AdminCmdletRunner, input: LeastPrivilegeInput): Promise<void> {
  const read = () => readOrNone(run, "Get-ServicePrincipal", { Identity: input.servicePrincipalId });
  let row = (await read())[0];
  if (!row) {
    await created(
      run("New-ServicePrincipal", {
        AppId: input.appId,
        ObjectId: input.servicePrincipalId,
        DisplayName: DISPLAY_NAME,
      }),
    );
    row = (await read())[0];
  }
  if (!row || !same(row["AppId"], input.appId)) {
    throw new SetupVerificationError(
      `The service principal ${input.servicePrincipalId} in Exchange Online is not the app ${input.appId}.`,
    );
  }
}

/** The role group with (at least) `roles`; a new one is created with the app as member. */
async function ensureRoleGroup(
  run: AdminCmdletRunner,
  roles: readonly ManagementRole[],
  servicePrincipalId: string,
): Promise<void> {
  const read = async () => (await readOrNone(run, "Get-RoleGroup", { Identity: ROLE_GROUP_NAME }))[0];
  const existing = await read();
  if (!existing) {
    await created(
      run("New-RoleGroup", {
        Name: ROLE_GROUP_NAME,
        Roles: [...roles],
        Members: [servicePrincipalId],
        Description: DESCRIPTION,
      }),
    );
  } else {
    for (const role of missingRoles(existing, roles)) {
      await run("New-ManagementRoleAssignment", { Role: role, SecurityGroup: ROLE_GROUP_NAME });
    }
  }
  const after = await read();
  const missing = after ? missingRoles(after, roles) : [...roles];
  if (missing.length > 0) {
    throw new SetupVerificationError(`The role group ${ROLE_GROUP_NAME} lacks ${missing.join(", ")}.`);
  }
}

function missingRoles(group: Record<string, unknown>, roles: readonly ManagementRole[]): ManagementRole[] {
  const held = Array.isArray(group["Roles"]) ? group["Roles"] : [];
  return roles.filter((r) => !held.some((h) => same(h, r)));
}

async function isMember(run: AdminCmdletRunner, servicePrincipalId: string): Promise<boolean> {
  const members = await run("Get-RoleGroupMember", { Identity: ROLE_GROUP_NAME });
  return members.some(
    (m) =>
      same(m["Identity"], servicePrincipalId) || same(m["ExternalDirectoryObjectId"], servicePrincipalId),
  );
}

async function ensureMember(run: AdminCmdletRunner, servicePrincipalId: string): Promise<void> {
  if (await isMember(run, servicePrincipalId)) return;
  await run("Add-RoleGroupMember", { Identity: ROLE_GROUP_NAME, Member: servicePrincipalId });
  await verifyMember(run, servicePrincipalId);
}

async function verifyMember(run: AdminCmdletRunner, servicePrincipalId: string): Promise<void> {
  if (!(await isMember(run, servicePrincipalId))) {
    throw new SetupVerificationError(`The app is not a member of the role group ${ROLE_GROUP_NAME}.`);
  }
}
