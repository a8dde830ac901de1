import { type StepContext, type StepOutcome, settled } from "./context.ts";
import { checkNdrAddress } from "./journal-settings.ts";

/**
 * Step `check-access`, before any write: a token and Graph `GET /organization` (a tenant
 * without consent throws ConsentRequiredError), and the check of the NDR address, so that an
 * address Exchange would refuse fails before anything is changed. Reads only: a dehydrated
 * organisation is hydrated only when a write is refused (Enable-OrganizationCustomization
 * cannot be undone).
 */
export async function checkAccess(ctx: StepContext): Promise<StepOutcome> {
  // Side by side: the Graph and Exchange tokens are fetched in parallel too. Without consent
  // every one of them fails at the token request, before any call reaches the tenant.
  await settled<unknown>([ctx.m365.graph.getOrganization(), checkNdrAddress(ctx)]);
  return { changes: [] };
}
