import { InvalidRequestError } from "../errors.ts";
import { sameAddress, sameSet, sameText } from "../normalize.ts";
import type { OwnedObjectKind } from "../owned.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import type { OffboardingStepName } from "../tenant.ts";
import { desiredConnectors } from "./connector.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import {
  connectorRestore,
  journalsToProvider,
  removeOwnedMemberships,
  ruleRestore,
  sendsToProvider,
} from "./leftovers.ts";
import { findGroup, findJournalRule, findOwnedGroup, findOwnedJournalRule } from "./object-identity.ts";

export type OffboardPart = OffboardingStepName;

export interface OffboardContext extends StepContext {
  /** JournalingReportNdrTo before onboarding; undefined when it was never changed by us. */
  previousNdrTo: string | null | undefined;
  /** The JournalingReportNdrTo onboarding wrote, when recorded. */
  ndrAddressSet: string | undefined;
}

/**
 * Offboarding, one step at a time, in this order: `remove-journal-rules` first (rules reference
 * the groups and send mail through the connectors), then `remove-groups` and `remove-connectors`
 * side by side, then `restore-journal-settings` last (Exchange will not clear the NDR address
 * while journal rules exist).
 *
 * Removes what this service created and only that (the names recorded as owned); an object
 * already gone counts as removed. Objects it adopted are restored to their previous values, field
 * by field where the field still holds what onboarding set (a later edit by the customer stays),
 * and never deleted.
 */
export async function offboard(ctx: OffboardContext, part: OffboardPart): Promise<StepOutcome> {
  switch (part) {
    case "remove-journal-rules":
      return removeJournalRules(ctx);
    case "remove-groups":
      return removeGroups(ctx);
    case "remove-connectors":
      return removeConnectors(ctx);
    case "restore-journal-settings":
      return restoreJournalSettings(ctx);
  }
}

/** `find` answers only the object that is ours: of that very name, or (rules, groups) of its recorded identity. */
async function removeOwned(
  ctx: OffboardContext,
  kind: OwnedObjectKind,
  find: (name: string) => Promise<{ identity: string; name: string } | undefined>,
  remove: (identity: string) => Promise<void>,
  changes: string[],
): Promise<void> {
  for (const name of ctx.owned[kind]) {
    const current = await find(name);
    if (current) {
      await remove(current.identity);
      changes.push(
        sameText(current.name, name) ? `removed ${name}` : `removed ${name} (renamed ${current.name})`,
      );
    }
    await ctx.disown(kind, name);
  }
}

/** An identity also matches aliases and addresses: only the object of that very name is ours. */
const named =
  <T extends { name: string }>(get: (name: string) => Promise<T | undefined>) =>
  async (name: string): Promise<T | undefined> => {
    const current = await get(name);
    return current && sameText(current.name, name) ? current : undefined;
  };

async function removeJournalRules(ctx: OffboardContext): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes: string[] = [];
  await removeOwned(
    ctx,
    "journalRules",
    (name) => findOwnedJournalRule(ctx, name),
    (id) => exchange.removeJournalRule(id),
    changes,
  );
  // What onboarding set on each rule, by name: its region's journaling address and group.
  const ours = new Map(
    regionsOf(ctx.request.region).map((r) => [
      nameFor(ctx.profile.journalRuleName, ctx.request.region, r, "rule").toLowerCase(),
      {
        address: journalAddress(ctx.profile, r, ctx.request.customerName),
        recipient:
          ctx.request.region === "split" ? (ctx.request.groups?.[r].primarySmtpAddress ?? null) : null,
        group: ctx.request.region === "split" ? ctx.request.groups?.[r].name : undefined,
      },
    ]),
  );
  for (const [name, previous] of Object.entries(ctx.adopted.journalRules)) {
    // Renamed by the admin since: still found by its recorded identity, its values still restored.
    const current = await findJournalRule(ctx, name);
    const set = ours.get(name.toLowerCase());
    // Restore only a rule that still journals to us, and field by field only what still holds
    // onboarding's value: what the customer changed since is theirs.
    if (current && set && sameAddress(current.journalEmailAddress, set.address)) {
      const back: Parameters<typeof exchange.setJournalRule>[1] = {};
      if (!sameAddress(current.journalEmailAddress, previous.journalEmailAddress))
        back.journalEmailAddress = previous.journalEmailAddress;
      if (current.scope === "External" && current.scope !== previous.scope) back.scope = previous.scope;
      if (
        !sameAddress(current.recipient, previous.recipient) &&
        (sameAddress(current.recipient, set.recipient) ||
          (await journalsGroup(ctx, current.recipient, set.group)))
      )
        back.recipient = previous.recipient;
      if (Object.keys(back).length > 0) await exchange.setJournalRule(current.identity, back);
      if (current.enabled && !previous.enabled) await exchange.disableJournalRule(current.identity);
      changes.push(`restored journal rule ${name}`);
    } else if (current && journalsToProvider(ctx.profile, current)) {
      // Taken over from a previous owner and not converged yet (or of a mode this request does
      // not use): it journals to the provider, so the customer's values come back whole.
      const back = ruleRestore(current, previous);
      if (Object.keys(back.changes).length > 0) await exchange.setJournalRule(current.identity, back.changes);
      if (back.disable) await exchange.disableJournalRule(current.identity);
      changes.push(`restored journal rule ${name}`);
    }
    await ctx.release("journalRules", name);
  }
  return outcome(changes, ctx.owned.journalRules.length + Object.keys(ctx.adopted.journalRules).length);
}

/**
 * Whether `recipient` is the address our region's group has now: a run points the rule at the
 * group's address as Exchange reads it, which the customer's admin may have changed since the
 * request (docs/m365-fidelity.md G13).
 */
async function journalsGroup(
  ctx: OffboardContext,
  recipient: string | null,
  group: string | undefined,
): Promise<boolean> {
  if (!recipient || !group) return false;
  const current = await findGroup(ctx, group);
  return Boolean(current && sameAddress(current.primarySmtpAddress, recipient));
}

async function removeGroups(ctx: OffboardContext): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes: string[] = [];
  let work = ctx.owned.groups.length;
  // Memberships we added to groups we adopted first, then the groups we created.
  work += await removeOwnedMemberships(ctx, changes);
  await removeOwned(
    ctx,
    "groups",
    (name) => findOwnedGroup(ctx, name),
    (id) => exchange.removeDistributionGroup(id),
    changes,
  );
  return outcome(changes, work);
}

async function removeConnectors(ctx: OffboardContext): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes: string[] = [];
  const work = ctx.owned.connectors.length + Object.keys(ctx.adopted.connectors).length;
  await removeOwned(
    ctx,
    "connectors",
    named((n) => exchange.getOutboundConnector(n)),
    (id) => exchange.removeOutboundConnector(id),
    changes,
  );
  const desired = new Map(desiredConnectors(ctx).map((d) => [d.name.toLowerCase(), d]));
  for (const [name, previous] of Object.entries(ctx.adopted.connectors)) {
    const current = await exchange.getOutboundConnector(name);
    const ours = desired.get(name.toLowerCase());
    if (current && ours) {
      // Field by field: only what still holds the value onboarding set goes back.
      const back: Parameters<typeof exchange.setOutboundConnector>[1] = {};
      if (current.comment === ours.comment && previous.comment !== ours.comment)
        back.comment = previous.comment;
      if (current.connectorType === ours.connectorType && previous.connectorType !== ours.connectorType)
        back.connectorType = previous.connectorType;
      if (
        sameSet(current.recipientDomains, ours.recipientDomains) &&
        !sameSet(previous.recipientDomains, ours.recipientDomains)
      )
        back.recipientDomains = previous.recipientDomains;
      if (sameSet(current.smartHosts, ours.smartHosts) && !sameSet(previous.smartHosts, ours.smartHosts)) {
        back.smartHosts = previous.smartHosts;
      }
      if (current.useMxRecord === ours.useMxRecord && previous.useMxRecord !== ours.useMxRecord)
        back.useMxRecord = previous.useMxRecord;
      if (
        current.tlsSettings === ours.tlsSettings &&
        previous.tlsSettings !== ours.tlsSettings &&
        previous.tlsSettings
      )
        back.tlsSettings = previous.tlsSettings;
      if (current.enabled === ours.enabled && previous.enabled !== ours.enabled)
        back.enabled = previous.enabled;
      if (
        previous.isTransportRuleScoped !== undefined &&
        current.isTransportRuleScoped === ours.isTransportRuleScoped &&
        previous.isTransportRuleScoped !== ours.isTransportRuleScoped
      )
        back.isTransportRuleScoped = previous.isTransportRuleScoped;
      if (previous.testMode && !current.testMode) back.testMode = previous.testMode;
      // Our validation mark goes too, on a connector that still sends to the provider.
      const stillOurs =
        sameSet(current.recipientDomains, ours.recipientDomains) &&
        sameSet(current.smartHosts, ours.smartHosts);
      if (stillOurs && current.isValidated !== previous.isValidated) back.isValidated = previous.isValidated;
      if (Object.keys(back).length > 0) {
        await exchange.setOutboundConnector(current.identity, back);
        changes.push(`restored connector ${name}: ${Object.keys(back).join(", ")}`);
      }
    } else if (current && sendsToProvider(ctx.profile, current)) {
      // One this request does not use (a previous owner's gateway) that still sends to the
      // provider: the customer's values come back whole.
      const back = connectorRestore(current, previous);
      if (Object.keys(back).length > 0) {
        await exchange.setOutboundConnector(current.identity, back);
        changes.push(`restored connector ${name}: ${Object.keys(back).join(", ")}`);
      }
    }
    await ctx.release("connectors", name);
  }
  return outcome(changes, work);
}

/**
 * Puts back the JournalingReportNdrTo found before onboarding, if it still holds the address
 * onboarding set (one someone changed since is theirs). Exchange refuses to clear the address
 * once set (while journal rules exist, and possibly for good): when the previous value was empty
 * and clearing is refused, the address is left and the outcome says so (`ndrAddressKept`).
 */
async function restoreJournalSettings(ctx: OffboardContext): Promise<StepOutcome> {
  if (ctx.previousNdrTo === undefined) return { changes: [], skipped: true };
  const { exchange } = ctx.m365;
  const current = await exchange.getTransportConfig();
  // The address onboarding wrote (a PATCH may have changed the request since).
  const ours = ctx.ndrAddressSet ?? ctx.request.ndrAddress;
  if (!sameAddress(current.journalingReportNdrTo, ours)) return { changes: [] };
  if (ctx.previousNdrTo !== null) {
    await exchange.setTransportConfig({ journalingReportNdrTo: ctx.previousNdrTo });
    return { changes: [`restored JournalingReportNdrTo to ${ctx.previousNdrTo}`] };
  }
  try {
    await exchange.setTransportConfig({ journalingReportNdrTo: null });
    return { changes: ["cleared JournalingReportNdrTo"] };
  } catch (err) {
    // A refusal (not a fault worth retrying): the address stays, and offboarding says so.
    if (!(err instanceof InvalidRequestError)) throw err;
    const after = await exchange.getTransportConfig();
    if (!sameAddress(after.journalingReportNdrTo, ours)) throw err;
    return { changes: [], ndrAddressKept: true };
  }
}

function outcome(changes: string[], work: number): StepOutcome {
  return work === 0 ? { changes, skipped: true } : { changes };
}
