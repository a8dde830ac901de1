import { InvalidNdrRecipientError } from "../errors.ts";
import { normalizeAddress, sameAddress } from "../normalize.ts";
import type { StepContext, StepOutcome } from "./context.ts";

/**
 * Recipients that may receive undeliverable journal reports: a user (mailbox or mail user) or
 * a mail contact. Microsoft recommends a mailbox outside Exchange Online; the guide asks for a
 * user account; both are fine. Never a group or team (the guide: "you cannot use a team or
 * group address").
 */
const ACCEPTED_TYPES = new Set([
  "usermailbox",
  "linkedmailbox",
  "remoteusermailbox",
  "mailuser",
  "guestmailuser",
  "mailcontact",
]);
const GROUP_TYPE = /group|roomlist/i;

/**
 * Checks `ndrAddress` with Get-Recipient: a recipient of an accepted kind passes; a group or
 * team of any kind, or another kind of recipient, is refused; an address no recipient has
 * passes when it is external, and is refused when it is in one of the tenant's accepted domains
 * (a typo). Throws InvalidNdrRecipientError with what to do.
 */
export async function checkNdrAddress(ctx: StepContext): Promise<void> {
  const address = ctx.request.ndrAddress;
  const { exchange } = ctx.m365;
  const recipient = await exchange.getRecipient(address);
  if (recipient) {
    const type = recipient.recipientTypeDetails;
    if (ACCEPTED_TYPES.has(type.toLowerCase())) return;
    if (GROUP_TYPE.test(type)) {
      throw new InvalidNdrRecipientError(
        `ndrAddress ${address} is a ${type}: undeliverable journal reports cannot go to a group or team. Use a user mailbox, a mail user, a mail contact or an external address.`,
      );
    }
    throw new InvalidNdrRecipientError(
      `ndrAddress ${address} is a ${type}: use a user mailbox, a mail user, a mail contact or an external address.`,
    );
  }
  const domain = normalizeAddress(address).split("@")[1] ?? "";
  const accepted = await exchange.getAcceptedDomains();
  if (accepted.some((d) => inDomain(domain, d))) {
    throw new InvalidNdrRecipientError(
      `ndrAddress ${address} is in the tenant's accepted domain ${domain}, but no recipient has that address (a typo?). Use an existing user mailbox, mail user or mail contact, or an external address.`,
    );
  }
}

/** Whether `domain` is `accepted` or, for a wildcard accepted domain `*.x`, a subdomain of x. */
function inDomain(domain: string, accepted: string): boolean {
  const a = accepted.trim().toLowerCase();
  if (a.startsWith("*.")) return domain.endsWith(a.slice(1));
  return domain === a;
}

/** Step `journal-settings`: JournalingReportNdrTo = ndrAddress, remembering the previous value. */
export async function applyJournalSettings(ctx: StepContext): Promise<StepOutcome> {
  const current = await ctx.m365.exchange.getTransportConfig();
  if (sameAddress(current.journalingReportNdrTo, ctx.request.ndrAddress)) return { changes: [] };
  await ctx.rememberPreviousNdrTo(current.journalingReportNdrTo || null);
  await ctx.m365.exchange.setTransportConfig({ journalingReportNdrTo: ctx.request.ndrAddress });
  await ctx.recordNdrAddressSet(ctx.request.ndrAddress);
  return { changes: [`set JournalingReportNdrTo to ${ctx.request.ndrAddress}`] };
}
