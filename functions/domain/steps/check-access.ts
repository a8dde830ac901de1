import {
  InvalidGroupMemberError,
  InvalidNdrRecipientError,
  NoExchangeRoleError,
  NotFoundError,
  PermissionMissingError,
} from "../errors.ts";
import { sameAddress } from "../normalize.ts";
import {
  describeMissing,
  type MissingPermission,
  missingPermissions,
  requiredCmdlets,
} from "../permissions.ts";
import { type DiffContext, type StepContext, type StepOutcome, settled } from "./context.ts";
import { emptyDiff, type StepDiff } from "./diff.ts";
import { unknownGroupMembers, unknownMembersMessage } from "./group-members.ts";
import { NDR_EXPECTED, ndrProblem } from "./journal-settings.ts";

export type AccessDiff = StepDiff & {
  /** Why the NDR address cannot be written; absent when it needs no write (already set as is). */
  ndrMessage?: string;
  memberMessage?: string;
  missingPermissions?: MissingPermission[];
};

/**
 * Step `check-access`, reads only: a token and Graph `GET /organization` (a tenant without
 * consent throws ConsentRequiredError); the permission preflight (the cmdlets Exchange lets the
 * app run must include every one this tenant's onboarding and offboarding need); and the check
 * of the NDR address. Missing permissions and a refused NDR address are differences of this
 * step, so that a drift check reports withdrawn permissions or a removed mailbox as drift of
 * access. Reads only: a dehydrated organisation is hydrated only when a write is refused
 * (Enable-OrganizationCustomization cannot be undone).
 */
export async function diffAccess(ctx: DiffContext): Promise<AccessDiff> {
  const diff: AccessDiff = emptyDiff("check-access");
  // Side by side: the Graph and Exchange tokens are fetched in parallel too. Without consent
  // every one of them fails at the token request, before any call reaches the tenant.
  const [, available, problem, unknownMembers] = await settled<unknown>([
    ctx.m365.graph.getOrganization(),
    // An endpoint without the module file (404) skips the preflight; the steps still report a
    // refused cmdlet.
    // An app with no Exchange role at all may run nothing: every role this tenant needs is missing.
    ctx.m365.exchange.availableCmdlets().catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      if (err instanceof NoExchangeRoleError) return [];
      throw err;
    }),
    ndrProblem(ctx).catch((err: unknown) => {
      if (err instanceof NoExchangeRoleError) return undefined;
      throw err;
    }),
    unknownGroupMembers(ctx).catch((err: unknown) => {
      if (err instanceof NoExchangeRoleError) return [];
      throw err;
    }),
  ]);
  if (Array.isArray(available)) {
    const missing = missingPermissions(requiredCmdlets(ctx.request), available as string[]);
    for (const { cmdlet, role } of missing) {
      diff.differences.push({
        step: "check-access",
        object: `permission to run ${cmdlet}`,
        field: "granted",
        expected: role,
        actual: "not granted",
      });
    }
    if (missing.length > 0) diff.missingPermissions = missing;
  }
  if (problem) {
    const { actual, message } = problem as { actual: string; message: string };
    diff.differences.push({
      step: "check-access",
      object: `NDR address ${ctx.request.ndrAddress}`,
      field: "recipient",
      expected: NDR_EXPECTED,
      actual,
    });
    // Only a write of the address needs it to be right first: one JournalingReportNdrTo already
    // names (its mailbox removed since) stays a difference, and the run still repairs the rest.
    const current = await ctx.m365.exchange.getTransportConfig().catch(() => undefined);
    if (!sameAddress(current?.journalingReportNdrTo, ctx.request.ndrAddress)) diff.ndrMessage = message;
  }
  const unknown = unknownMembers as string[];
  for (const member of unknown.slice(0, 100)) {
    diff.differences.push({
      step: "check-access",
      object: `group member ${member}`,
      field: "recipient",
      expected: "a recipient of the tenant",
      actual: "no recipient",
    });
  }
  if (unknown.length > 0) diff.memberMessage = unknownMembersMessage(unknown);
  return diff;
}

/**
 * Step `check-access`, before any write: the comparison above. Missing permissions end the
 * onboarding in `awaiting_permissions` (PermissionMissingError naming each cmdlet and its role);
 * an NDR address Exchange would refuse when the run sets it (InvalidNdrRecipientError) or a
 * requested group member that is no recipient (InvalidGroupMemberError, naming each) fails before
 * anything is changed.
 */
export async function checkAccess(ctx: StepContext): Promise<StepOutcome> {
  const diff = await diffAccess(ctx);
  if (diff.missingPermissions) {
    throw new PermissionMissingError(
      `The app may not run ${describeMissing(diff.missingPermissions)} in this tenant. Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign the app the Exchange Administrator role, then retry.`,
      diff.missingPermissions,
    );
  }
  if (diff.ndrMessage) throw new InvalidNdrRecipientError(diff.ndrMessage);
  if (diff.memberMessage) throw new InvalidGroupMemberError(diff.memberMessage);
  return { changes: [] };
}
