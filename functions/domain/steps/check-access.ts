import { InvalidNdrRecipientError } from "../errors.ts";
import type { StepContext, StepOutcome } from "./context.ts";

/** RecipientTypeDetails that are a user account (the guide: "never a team or group address"). */
const USER_RECIPIENT_TYPES = new Set(["usermailbox", "mailuser", "linkedmailbox", "remoteusermailbox"]);

/**
 * Step `check-access`, before any write: a token and Graph `GET /organization` (a tenant
 * without consent throws ConsentRequiredError), the dehydration check, and the preflight of
 * the NDR address, so that a bad address fails before anything is changed.
 */
export async function checkAccess(ctx: StepContext): Promise<StepOutcome> {
  const changes: string[] = [];
  // Side by side: the Graph and Exchange tokens are fetched in parallel too. Without consent
  // every one of them fails at the token request, before any call reaches the tenant.
  const [, org, recipient] = await Promise.all([
    ctx.m365.graph.getOrganization(),
    ctx.m365.exchange.getOrganizationConfig(),
    ctx.m365.exchange.getRecipient(ctx.request.ndrAddress),
  ]);
  if (!recipient) {
    throw new InvalidNdrRecipientError(
      `ndrAddress ${ctx.request.ndrAddress} is not a recipient in this tenant; use the address of a user mailbox.`,
    );
  }
  if (!USER_RECIPIENT_TYPES.has(recipient.recipientTypeDetails.toLowerCase())) {
    throw new InvalidNdrRecipientError(
      `ndrAddress ${ctx.request.ndrAddress} is a ${recipient.recipientTypeDetails}; undeliverable journal reports must go to a user account, never a group or team.`,
    );
  }
  if (org.isDehydrated) {
    await ctx.m365.exchange.enableOrganizationCustomization();
    changes.push("enabled organization customization");
  }
  return { changes };
}
