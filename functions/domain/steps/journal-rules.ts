import type { JournalRuleSpec } from "../m365.ts";
import { sameAddress } from "../normalize.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import { type StepContext, type StepOutcome, settled } from "./context.ts";

/**
 * The journal rules: one per region, Scope External, enabled (the cmdlet's default is a disabled
 * rule); in split mode each journals its region's group. `recipients` maps a region to its group
 * address.
 */
export function desiredJournalRules(
  ctx: Pick<StepContext, "request" | "profile">,
  recipients: Partial<Record<"eu" | "us", string>> = {},
): JournalRuleSpec[] {
  const { request, profile } = ctx;
  return regionsOf(request.region).map((region) => ({
    name: nameFor(profile.journalRuleName, request.region, region, "rule"),
    journalEmailAddress: journalAddress(profile, region, request.customerName),
    scope: "External",
    recipient: request.region === "split" ? (recipients[region] ?? null) : null,
    enabled: true,
  }));
}

/** Step `journal-rules`: create or correct the rule(s), enabled. */
export async function applyJournalRules(ctx: StepContext): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const recipients: Partial<Record<"eu" | "us", string>> = {};
  if (ctx.request.region === "split" && ctx.request.groups) {
    // An adopted group may have another address than the request gave: journal what exists.
    const { eu, us } = ctx.request.groups;
    const [euGroup, usGroup] = await settled([
      exchange.getDistributionGroup(eu.name),
      exchange.getDistributionGroup(us.name),
    ]);
    recipients.eu = euGroup?.primarySmtpAddress ?? eu.primarySmtpAddress;
    recipients.us = usGroup?.primarySmtpAddress ?? us.primarySmtpAddress;
  }
  const changes: string[] = [];
  await settled(
    desiredJournalRules(ctx, recipients).map(async (desired) => {
      const current = await exchange.getJournalRule(desired.name);
      if (!current) {
        await ctx.own("journalRules", desired.name);
        await exchange.newJournalRule(desired, {
          ownedBefore: ctx.owned.journalRules.includes(desired.name),
        });
        changes.push(`created journal rule ${desired.name}`);
        return;
      }
      const drift: Partial<Omit<JournalRuleSpec, "name" | "enabled">> = {};
      if (!sameAddress(current.journalEmailAddress, desired.journalEmailAddress)) {
        drift.journalEmailAddress = desired.journalEmailAddress;
      }
      if (current.scope !== desired.scope) drift.scope = desired.scope;
      if (!sameAddress(current.recipient, desired.recipient)) drift.recipient = desired.recipient;
      if (
        (Object.keys(drift).length > 0 || !current.enabled) &&
        !ctx.owned.journalRules.includes(desired.name)
      ) {
        // A rule someone else made: remember what it was before our first change.
        await ctx.adopt("journalRules", desired.name, {
          name: current.name,
          journalEmailAddress: current.journalEmailAddress,
          scope: current.scope,
          recipient: current.recipient,
          enabled: current.enabled,
        });
      }
      if (Object.keys(drift).length > 0) {
        await exchange.setJournalRule(current.identity, drift);
        changes.push(`updated journal rule ${desired.name}: ${Object.keys(drift).join(", ")}`);
      }
      if (!current.enabled) {
        await exchange.enableJournalRule(current.identity);
        changes.push(`enabled journal rule ${desired.name}`);
      }
    }),
  );
  return { changes };
}
