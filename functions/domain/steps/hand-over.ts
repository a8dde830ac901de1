/**
 * Step `hand-over`: after a change of owner, the previous owner's journaling stops at once,
 * before anything else of the new owner's onboarding (its checks, its approval, its writes):
 * - the service's own journal rules that journal to the provider for another account than the
 *   new request's are disabled (Disable-JournalRule: reversible; the new onboarding's step
 *   `journal-rules` then re-points and enables them, or removes those it does not use);
 * - rules of the customer that the service adopted and re-pointed get the customer's values
 *   back (and stay adopted, so that their values from before the service are kept).
 * The customer's other rules are never touched. These are the service's own objects: the
 * approval of the new owner's plan is about its own writes, so this step needs none.
 */
import { sameAddress } from "../normalize.ts";
import type { StepContext } from "./context.ts";
import { desiredJournalRules } from "./journal-rules.ts";
import { journalsToProvider, ruleRestore } from "./leftovers.ts";
import { findJournalRule, findOwnedJournalRule } from "./object-identity.ts";

/** Stops every journal rule of the service that sends to a previous owner's account; what changed. */
export async function handOver(
  ctx: Pick<StepContext, "request" | "profile" | "m365" | "owned" | "adopted" | "objectIds">,
): Promise<string[]> {
  const { exchange } = ctx.m365;
  const own = desiredJournalRules(ctx).map((r) => r.journalEmailAddress);
  const toPrevious = (address: string) => !own.some((a) => sameAddress(a, address));
  const changes: string[] = [];
  for (const name of ctx.owned.journalRules) {
    // By its recorded identity too: a rule the customer's admin renamed still stops.
    const rule = await findOwnedJournalRule(ctx, name);
    if (!rule?.enabled || !journalsToProvider(ctx.profile, rule)) continue;
    if (!toPrevious(rule.journalEmailAddress)) continue;
    await exchange.disableJournalRule(rule.identity);
    changes.push(`disabled journal rule ${name}`);
  }
  for (const [name, previous] of Object.entries(ctx.adopted.journalRules)) {
    const rule = await findJournalRule(ctx, name);
    if (!rule || !journalsToProvider(ctx.profile, rule) || !toPrevious(rule.journalEmailAddress)) continue;
    const back = ruleRestore(rule, previous);
    if (Object.keys(back.changes).length > 0) await exchange.setJournalRule(rule.identity, back.changes);
    if (back.disable) await exchange.disableJournalRule(rule.identity);
    changes.push(`gave journal rule ${name} the customer's values back`);
  }
  return changes;
}
