import type { JournalRuleSpec } from "../m365.ts";
import { sameAddress, sameText } from "../normalize.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import { createOwned, type DiffContext, type StepContext, type StepOutcome, settled } from "./context.ts";
import { addAction, applyObjects, emptyDiff, type StepDiff } from "./diff.ts";
import { findGroup, findJournalRule, recordedId } from "./object-identity.ts";

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

const ruleObject = (name: string) => `journal rule "${name}"`;

/** Step `journal-rules`, reads only: rules missing, with other values, or disabled. */
export async function diffJournalRules(ctx: DiffContext): Promise<StepDiff> {
  const diff = emptyDiff("journal-rules");
  const names = desiredJournalRules(ctx).map((d) => d.name);
  // The rules and (split) the groups they journal, side by side: one level of reads.
  const groups = ctx.request.region === "split" ? ctx.request.groups : undefined;
  const readGroups = groups
    ? settled([findGroup(ctx, groups.eu.name), findGroup(ctx, groups.us.name)])
    : Promise.resolve([]);
  // By recorded identity first: a rule the customer's admin renamed is still ours.
  const readRules = settled(names.map((name) => findJournalRule(ctx, name)));
  // Both settle before either answer is used (a failure waits for the other read).
  await Promise.allSettled([readGroups, readRules]);
  const [groupsNow, currents] = [await readGroups, await readRules];
  const recipients: Partial<Record<"eu" | "us", string>> = {};
  if (groups) {
    // An adopted group may have another address than the request gave: journal what exists.
    recipients.eu = groupsNow[0]?.primarySmtpAddress ?? groups.eu.primarySmtpAddress;
    recipients.us = groupsNow[1]?.primarySmtpAddress ?? groups.us.primarySmtpAddress;
  }
  const desired = desiredJournalRules(ctx, recipients);
  desired.forEach((rule, i) => {
    const current = currents[i];
    const object = ruleObject(rule.name);
    if (!current) {
      diff.differences.push({
        step: "journal-rules",
        object,
        field: "exists",
        expected: true,
        actual: false,
      });
      addAction(diff, object, { kind: "new-journal-rule", spec: rule }, "The journal rule does not exist.");
      return;
    }
    const drift: Partial<Omit<JournalRuleSpec, "enabled">> = {};
    // Renamed in the admin center: the same rule, its name is a difference (never a second rule).
    if (!sameText(current.name, rule.name)) drift.name = rule.name;
    if (!sameAddress(current.journalEmailAddress, rule.journalEmailAddress)) {
      drift.journalEmailAddress = rule.journalEmailAddress;
    }
    if (current.scope !== rule.scope) drift.scope = rule.scope;
    if (!sameAddress(current.recipient, rule.recipient)) drift.recipient = rule.recipient;
    const fields = Object.keys(drift) as (keyof typeof drift)[];
    for (const field of fields) {
      diff.differences.push({
        step: "journal-rules",
        object,
        field,
        expected: rule[field],
        actual: current[field] ?? null,
      });
    }
    if (!current.enabled) {
      diff.differences.push({
        step: "journal-rules",
        object,
        field: "enabled",
        expected: true,
        actual: false,
      });
    }
    const ours = ctx.owned.journalRules.includes(rule.name) || Boolean(ctx.adopted?.journalRules[rule.name]);
    const adopting = (fields.length > 0 || !current.enabled) && !ctx.owned.journalRules.includes(rule.name);
    if (adopting) {
      // A rule someone else made: remember what it was before our first change.
      addAction(
        diff,
        object,
        {
          kind: "adopt",
          adoptKind: "journalRules",
          name: rule.name,
          previous: {
            name: current.name,
            journalEmailAddress: current.journalEmailAddress,
            scope: current.scope,
            recipient: current.recipient,
            enabled: current.enabled,
          },
        },
        "",
      );
    }
    if ((ours || adopting) && current.guid && recordedId(ctx, "journalRules", rule.name) !== current.guid) {
      // Its identity, before any change to it: found again if the admin renames it.
      addAction(
        diff,
        object,
        { kind: "record-id", idKind: "journalRules", name: rule.name, id: current.guid },
        "",
      );
    }
    if (fields.length > 0) {
      addAction(
        diff,
        object,
        { kind: "set-journal-rule", name: rule.name, identity: current.identity, changes: drift },
        `The rule's ${fields.join(", ")} differ from what journaling needs.`,
      );
    }
    if (!current.enabled) {
      addAction(
        diff,
        object,
        { kind: "enable-journal-rule", name: rule.name, identity: current.identity },
        "The rule is disabled: nothing is journaled.",
      );
    }
  });
  return diff;
}

/** Step `journal-rules`: creates, corrects and enables what `diffJournalRules` found. */
export async function applyJournalRulesDiff(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes = await applyObjects(ctx, diff, async (action) => {
    switch (action.kind) {
      case "new-journal-rule": {
        const created = await createOwned(ctx, "journalRules", action.spec.name, (options) =>
          exchange.newJournalRule(action.spec, options),
        );
        if (created.guid) await ctx.recordId("journalRules", action.spec.name, created.guid);
        return `created journal rule ${action.spec.name}`;
      }
      case "set-journal-rule":
        await exchange.setJournalRule(action.identity, action.changes);
        return `updated journal rule ${action.name}: ${Object.keys(action.changes).join(", ")}`;
      case "enable-journal-rule":
        await exchange.enableJournalRule(action.identity);
        return `enabled journal rule ${action.name}`;
      default:
        throw new Error(`journal-rules cannot apply ${action.kind}`);
    }
  });
  return { changes };
}
