import { InvalidNdrRecipientError } from "../errors.ts";
import { type DiffContext, type StepContext, type StepOutcome, settled } from "./context.ts";
import { emptyDiff, type StepDiff } from "./diff.ts";
import { NDR_EXPECTED, ndrProblem } from "./journal-settings.ts";

/**
 * Step `check-access`, reads only: a token and Graph `GET /organization` (a tenant without
 * consent throws ConsentRequiredError), and the check of the NDR address, which is a difference
 * here (a mailbox removed since onboarding shows up in a drift check). Reads only: a dehydrated
 * organisation is hydrated only when a write is refused (Enable-OrganizationCustomization cannot
 * be undone).
 *
 * Hook: a permission preflight (may the app run each cmdlet?) belongs here too; its findings are
 * differences of this step, so that a drift check reports withdrawn permissions as drift of access.
 */
export async function diffAccess(ctx: DiffContext): Promise<StepDiff & { ndrMessage?: string }> {
  const diff: StepDiff & { ndrMessage?: string } = emptyDiff("check-access");
  // Side by side: the Graph and Exchange tokens are fetched in parallel too. Without consent
  // every one of them fails at the token request, before any call reaches the tenant.
  const [, problem] = await settled<unknown>([ctx.m365.graph.getOrganization(), ndrProblem(ctx)]);
  if (problem) {
    const { actual, message } = problem as { actual: string; message: string };
    diff.differences.push({
      step: "check-access",
      object: `NDR address ${ctx.request.ndrAddress}`,
      field: "recipient",
      expected: NDR_EXPECTED,
      actual,
    });
    diff.ndrMessage = message;
  }
  return diff;
}

/**
 * Step `check-access`, before any write: the comparison above; an NDR address Exchange would
 * refuse fails before anything is changed (InvalidNdrRecipientError).
 */
export async function checkAccess(ctx: StepContext): Promise<StepOutcome> {
  const diff = await diffAccess(ctx);
  if (diff.ndrMessage) throw new InvalidNdrRecipientError(diff.ndrMessage);
  return { changes: [] };
}
