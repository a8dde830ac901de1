import { NotFoundError, PermissionMissingError } from "../errors.ts";
import { describeMissing, missingPermissions, requiredCmdlets } from "../permissions.ts";
import { type StepContext, type StepOutcome, settled } from "./context.ts";
import { checkNdrAddress } from "./journal-settings.ts";

/**
 * Step `check-access`, before any write: a token and Graph `GET /organization` (a tenant
 * without consent throws ConsentRequiredError); the permission preflight (the cmdlets Exchange
 * lets the app run must include every one this tenant's onboarding and offboarding need, else
 * PermissionMissingError naming each cmdlet and its role); and the check of the NDR address, so
 * that an address Exchange would refuse fails before anything is changed. Reads only: a
 * dehydrated organisation is hydrated only when a write is refused
 * (Enable-OrganizationCustomization cannot be undone).
 */
export async function checkAccess(ctx: StepContext): Promise<StepOutcome> {
  // Side by side: the Graph and Exchange tokens are fetched in parallel too. Without consent
  // both fail at the token request, before any call reaches the tenant.
  const [, available] = await settled<unknown>([
    ctx.m365.graph.getOrganization(),
    // An endpoint without the module file (404) skips the preflight; the steps still report a
    // refused cmdlet.
    ctx.m365.exchange.availableCmdlets().catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }),
  ]);
  if (Array.isArray(available)) {
    const missing = missingPermissions(requiredCmdlets(ctx.request), available as string[]);
    if (missing.length > 0) {
      throw new PermissionMissingError(
        `The app may not run ${describeMissing(missing)} in this tenant. Have the customer's admin run the permissions script (GET /v1/tenants/{tenantId}/permissions-script) or assign the app the Exchange Administrator role, then retry.`,
        missing,
      );
    }
  }
  await checkNdrAddress(ctx);
  return { changes: [] };
}
