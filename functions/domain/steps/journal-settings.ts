import { InvalidNdrRecipientError } from "../errors.ts";
import { normalizeAddress, sameAddress } from "../normalize.ts";
import type { DiffContext, StepContext, StepOutcome } from "./context.ts";
import { addAction, applyObjects, emptyDiff, type StepDiff } from "./diff.ts";

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

/** Why Exchange would refuse `ndrAddress`, in the product's words, or undefined when it is fine. */
export interface NdrProblem {
  /** What the address is now, e.g. "GroupMailbox" or "no recipient". */
  actual: string;
  /** What to do, for the partner. */
  message: string;
}

/** What an NDR address must be. */
export const NDR_EXPECTED = "a user mailbox, mail user, mail contact or external address";

/**
 * Checks `ndrAddress` with Get-Recipient, reads only: a recipient of an accepted kind passes; a
 * group or team of any kind, or another kind of recipient, is a problem; an address no recipient
 * has passes when it is external, and is a problem when it is in one of the tenant's accepted
 * domains (a typo, or a mailbox removed since). An address that a journal rule journals (its
 * Recipient) is a problem too: Set-TransportConfig refuses it.
 */
export async function ndrProblem(ctx: DiffContext): Promise<NdrProblem | undefined> {
  const address = ctx.request.ndrAddress;
  const { exchange } = ctx.m365;
  const [recipient, rules] = await Promise.all([exchange.getRecipient(address), exchange.listJournalRules()]);
  // Exchange refuses an address that a journal rule journals (its Recipient) as this one.
  const journaled = rules.find((rule) => sameAddress(rule.recipient, address));
  if (journaled) {
    return {
      actual: `journaled by journal rule "${journaled.name}"`,
      message: `ndrAddress ${address} is journaled by the journal rule "${journaled.name}", and Exchange does not send undeliverable journal reports to an address a journal rule journals. Use another address, or change that rule.`,
    };
  }
  if (recipient) {
    const type = recipient.recipientTypeDetails;
    if (ACCEPTED_TYPES.has(type.toLowerCase())) return undefined;
    if (GROUP_TYPE.test(type)) {
      return {
        actual: type,
        message: `ndrAddress ${address} is a ${type}: undeliverable journal reports cannot go to a group or team. Use a user mailbox, a mail user, a mail contact or an external address.`,
      };
    }
    return {
      actual: type,
      message: `ndrAddress ${address} is a ${type}: use a user mailbox, a mail user, a mail contact or an external address.`,
    };
  }
  const domain = normalizeAddress(address).split("@")[1] ?? "";
  const accepted = await exchange.getAcceptedDomains();
  if (accepted.some((d) => inDomain(domain, d))) {
    return {
      actual: "no recipient",
      message: `ndrAddress ${address} is in the tenant's accepted domain ${domain}, but no recipient has that address (a typo?). Use an existing user mailbox, mail user or mail contact, or an external address.`,
    };
  }
  return undefined;
}

/** {@link ndrProblem} as an error: throws InvalidNdrRecipientError with what to do. */
export async function checkNdrAddress(ctx: DiffContext): Promise<void> {
  const problem = await ndrProblem(ctx);
  if (problem) throw new InvalidNdrRecipientError(problem.message);
}

/** Whether `domain` is `accepted` or, for a wildcard accepted domain `*.x`, a subdomain of x. */
function inDomain(domain: string, accepted: string): boolean {
  const a = accepted.trim().toLowerCase();
  if (a.startsWith("*.")) return domain.endsWith(a.slice(1));
  return domain === a;
}

/** Step `journal-settings`, reads only: whether JournalingReportNdrTo is the tenant's ndrAddress. */
export async function diffJournalSettings(ctx: DiffContext): Promise<StepDiff> {
  const diff = emptyDiff("journal-settings");
  const current = await ctx.m365.exchange.getTransportConfig();
  if (sameAddress(current.journalingReportNdrTo, ctx.request.ndrAddress)) return diff;
  const object = "transport config";
  diff.differences.push({
    step: "journal-settings",
    object,
    field: "JournalingReportNdrTo",
    expected: ctx.request.ndrAddress,
    actual: current.journalingReportNdrTo ?? null,
  });
  addAction(
    diff,
    object,
    {
      kind: "set-ndr-address",
      previous: current.journalingReportNdrTo || null,
      address: ctx.request.ndrAddress,
    },
    current.journalingReportNdrTo
      ? `Undeliverable journal reports go to ${current.journalingReportNdrTo}, not to ${ctx.request.ndrAddress}.`
      : "No address receives undeliverable journal reports.",
  );
  return diff;
}

/** Step `journal-settings`: sets what `diffJournalSettings` found, remembering the previous value. */
export async function applyJournalSettingsDiff(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const changes = await applyObjects(ctx, diff, async (action) => {
    if (action.kind !== "set-ndr-address") throw new Error(`journal-settings cannot apply ${action.kind}`);
    await ctx.rememberPreviousNdrTo(action.previous);
    await ctx.m365.exchange.setTransportConfig({ journalingReportNdrTo: action.address });
    await ctx.recordNdrAddressSet(action.address);
    return `set JournalingReportNdrTo to ${action.address}`;
  });
  return { changes };
}
