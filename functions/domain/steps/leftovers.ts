/**
 * Objects the service created or adopted in the tenant that the current request does not use:
 * after a change of owner (the new partner's request has another region mode, no gateway, other
 * groups) or a correction of `outboundGateway`. Part of step `journal-rules` (always run, and
 * last), so that the request's own rules journal before the old ones go:
 * - rules, then groups (a rule may journal a group), then connectors, one after the other;
 * - what the service created is removed; what it adopted gets the customer's values back (only
 *   while it still sends to the provider: a later edit by the customer is theirs) and is
 *   forgotten; a rule is never left journaling to a previous owner's account.
 * Memberships the service added to adopted groups are removed by `removeLeftMemberships` when
 * the request has no groups at all (reads of memberships are too large for a comparison).
 */
import type { JournalRule, OutboundConnector, OutboundConnectorSpec } from "../m365.ts";
import { sameAddress, sameSet, sameText } from "../normalize.ts";
import type { AdoptedObjects } from "../owned.ts";
import { type ProviderProfile, regionsOf } from "../provider.ts";
import { desiredConnectors } from "./connector.ts";
import type { DiffContext, StepContext, StepOutcome } from "./context.ts";
import { addAction, applyObjects, type StepAction, type StepDiff } from "./diff.ts";
import { parseMembership } from "./groups.ts";
import { applyJournalRulesDiff, desiredJournalRules, diffJournalRules } from "./journal-rules.ts";
import { findGroup, findJournalRule, findOwnedGroup, findOwnedJournalRule } from "./object-identity.ts";

/** The diff entry holding the leftovers' actions (applied in order). */
export const LEFTOVERS_OBJECT = "objects this request no longer uses";

/** Step `journal-rules` as onboarding, drift checks and plans run it: the rules, then the leftovers. */
export async function diffJournalRulesAndLeftovers(ctx: DiffContext): Promise<StepDiff> {
  const diff = await diffJournalRules(ctx);
  await diffLeftovers(ctx, diff);
  return diff;
}

/**
 * Step `journal-rules`: the request's own rules first (side by side), then, once they journal,
 * the leftovers one after the other, then the memberships of a request without groups.
 */
export async function applyJournalRulesAndLeftovers(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const own = { ...diff, objects: diff.objects.filter((o) => o.object !== LEFTOVERS_OBJECT) };
  const leftovers = { ...diff, objects: diff.objects.filter((o) => o.object === LEFTOVERS_OBJECT) };
  const { changes } = await applyJournalRulesDiff(ctx, own);
  changes.push(...(await applyObjects(ctx, leftovers, (action) => applyLeftover(ctx, action))));
  changes.push(...(await removeLeftMemberships(ctx)));
  return { changes };
}

type ConnectorValues = AdoptedObjects["connectors"][string];
type RuleValues = AdoptedObjects["journalRules"][string];

type OwnedKind = "journalRules" | "groups" | "connectors";
/**
 * The objects the service creates, by kind: how to find one that is ours (a rule or a group by
 * its recorded identity too: one the admin renamed still goes) and which action removes it.
 */
const OWNED_KINDS: Record<
  OwnedKind,
  {
    noun: string;
    /** The word its reason uses ("this rule"). */
    short: string;
    find: (ctx: DiffContext, name: string) => Promise<{ name: string; identity: string } | undefined>;
    remove: "remove-journal-rule" | "remove-group" | "remove-connector";
  }
> = {
  journalRules: {
    noun: "journal rule",
    short: "rule",
    find: findOwnedJournalRule,
    remove: "remove-journal-rule",
  },
  groups: {
    noun: "group",
    short: "group",
    find: findOwnedGroup,
    remove: "remove-group",
  },
  connectors: {
    noun: "connector",
    short: "connector",
    // An identity also matches other names: only the connector of that very name is ours.
    find: async (ctx, n) => {
      const c = await ctx.m365.exchange.getOutboundConnector(n);
      return c && sameText(c.name, n) ? c : undefined;
    },
    remove: "remove-connector",
  },
};

const unused = (names: readonly string[], used: readonly string[]) =>
  names.filter((n) => !used.some((u) => sameText(u, n)));

/** Adds the leftovers' differences and actions to the `journal-rules` diff (reads only). */
export async function diffLeftovers(ctx: DiffContext, diff: StepDiff): Promise<void> {
  const { request, profile, owned } = ctx;
  const adopted = ctx.adopted ?? { connectors: {}, journalRules: {} };
  const { exchange } = ctx.m365;
  const rules = desiredJournalRules(ctx).map((r) => r.name);
  const groups =
    request.region === "split" && request.groups ? [request.groups.eu.name, request.groups.us.name] : [];
  const connectors = request.outboundGateway ? desiredConnectors(ctx).map((c) => c.name) : [];
  const add = (action: StepAction, object: string, field: string, reason: string) => {
    diff.differences.push({ step: "journal-rules", object, field, expected: false, actual: true });
    addAction(diff, LEFTOVERS_OBJECT, action, reason);
  };
  const forget = (action: StepAction) => addAction(diff, LEFTOVERS_OBJECT, action, "");

  // What the service created and the request no longer uses: removed while it is still there.
  const removeOwned = async <K extends OwnedKind>(ownedKind: K, used: readonly string[]) => {
    const { noun, short, find, remove } = OWNED_KINDS[ownedKind];
    for (const name of unused(owned[ownedKind], used)) {
      const current = await find(ctx, name);
      if (current) {
        add(
          { kind: remove, name, identity: current.identity },
          `${noun} "${name}"`,
          "exists",
          `The service created this ${short}; the request does not use it.`,
        );
      } else forget({ kind: "forget-owned", ownedKind, name });
    }
  };

  await removeOwned("journalRules", rules);
  for (const name of unused(Object.keys(adopted.journalRules), rules)) {
    const previous = adopted.journalRules[name] as RuleValues;
    const current = await findJournalRule(ctx, name);
    const changes =
      current && journalsToProvider(profile, current) ? ruleRestore(current, previous) : undefined;
    if (current && changes && (Object.keys(changes.changes).length > 0 || changes.disable)) {
      add(
        { kind: "restore-journal-rule", name, identity: current.identity, ...changes },
        `journal rule "${name}"`,
        "journalEmailAddress",
        "The customer's own rule: its values from before the service come back.",
      );
    } else forget({ kind: "forget-adopted", adoptKind: "journalRules", name });
  }
  await removeOwned("groups", groups);
  await removeOwned("connectors", connectors);
  for (const name of unused(Object.keys(adopted.connectors), connectors)) {
    const previous = adopted.connectors[name] as ConnectorValues;
    const current = await exchange.getOutboundConnector(name);
    const changes =
      current && sendsToProvider(profile, current) ? connectorRestore(current, previous) : undefined;
    if (current && changes && Object.keys(changes).length > 0) {
      add(
        { kind: "restore-connector", name, identity: current.identity, changes },
        `connector "${name}"`,
        "smartHosts",
        "The customer's own connector: its values from before the service come back.",
      );
    } else forget({ kind: "forget-adopted", adoptKind: "connectors", name });
  }
}

/** Carries out one leftover action; what changed, for logs. */
export async function applyLeftover(
  ctx: StepContext,
  action: Exclude<StepAction, { kind: "adopt" }>,
): Promise<string | undefined> {
  const { exchange } = ctx.m365;
  switch (action.kind) {
    case "remove-journal-rule":
      await exchange.removeJournalRule(action.identity);
      await ctx.disown("journalRules", action.name);
      return `removed journal rule ${action.name}`;
    case "restore-journal-rule":
      if (Object.keys(action.changes).length > 0)
        await exchange.setJournalRule(action.identity, action.changes);
      if (action.disable) await exchange.disableJournalRule(action.identity);
      await ctx.release("journalRules", action.name);
      return `restored journal rule ${action.name}`;
    case "remove-group":
      await exchange.removeDistributionGroup(action.identity);
      await ctx.disown("groups", action.name);
      return `removed group ${action.name}`;
    case "remove-connector":
      await exchange.removeOutboundConnector(action.identity);
      await ctx.disown("connectors", action.name);
      return `removed connector ${action.name}`;
    case "restore-connector":
      await exchange.setOutboundConnector(action.identity, action.changes);
      await ctx.release("connectors", action.name);
      return `restored connector ${action.name}`;
    case "forget-owned":
      await ctx.disown(action.ownedKind, action.name);
      return undefined;
    case "forget-adopted":
      await ctx.release(action.adoptKind, action.name);
      return undefined;
    default:
      throw new Error(`leftovers cannot apply ${action.kind}`);
  }
}

/** Owned memberships read per page. */
const MEMBERS_PAGE = 500;

/**
 * A request without groups uses no membership: the ones the service added to adopted groups
 * (under a previous owner's split request) are removed.
 */
export async function removeLeftMemberships(ctx: StepContext): Promise<string[]> {
  if (ctx.request.region === "split") return [];
  const changes: string[] = [];
  await removeOwnedMemberships(ctx, changes);
  return changes;
}

/**
 * Removes every membership the service added (up to 2 x 10,000), a page at a time, each forgotten
 * once removed, so that a crash resumes with what is left; says how many it went through.
 */
export async function removeOwnedMemberships(ctx: StepContext, changes: string[]): Promise<number> {
  const { exchange } = ctx.m365;
  let work = 0;
  const groups = new Map<string, Awaited<ReturnType<typeof exchange.getDistributionGroup>>>();
  for (
    let page = await ctx.ownedMembers(MEMBERS_PAGE);
    page.length > 0;
    page = await ctx.ownedMembers(MEMBERS_PAGE)
  ) {
    work += page.length;
    for (const value of page) {
      const { group, member } = parseMembership(value);
      // By its recorded identity too: an adopted group the admin renamed keeps no member of ours.
      if (!groups.has(group)) groups.set(group, await findGroup(ctx, group));
      const current = groups.get(group);
      if (current) {
        await exchange.removeDistributionGroupMember(current.identity, member);
        changes.push(`removed ${member} from ${group}`);
      }
    }
    await ctx.disown("members", page);
  }
  return work;
}

export function journalsToProvider(profile: ProviderProfile, rule: JournalRule): boolean {
  const domains = regionsOf("split").map((r) =>
    (profile.regions[r].journalAddressTemplate.split("@").pop() ?? "").toLowerCase(),
  );
  const domain = rule.journalEmailAddress.split("@").pop()?.toLowerCase() ?? "";
  return domains.includes(domain);
}

export function sendsToProvider(profile: ProviderProfile, connector: OutboundConnector): boolean {
  return regionsOf("split").some((r) => sameSet(connector.smartHosts, profile.regions[r].smartHosts));
}

export function ruleRestore(
  current: JournalRule,
  previous: RuleValues,
): { changes: Partial<Omit<RuleValues, "name" | "enabled">>; disable: boolean } {
  const changes: Partial<Omit<RuleValues, "name" | "enabled">> = {};
  if (!sameAddress(current.journalEmailAddress, previous.journalEmailAddress))
    changes.journalEmailAddress = previous.journalEmailAddress;
  if (current.scope !== previous.scope) changes.scope = previous.scope;
  if (!sameAddress(current.recipient, previous.recipient)) changes.recipient = previous.recipient;
  return { changes, disable: current.enabled && !previous.enabled };
}

export function connectorRestore(
  current: OutboundConnector,
  previous: ConnectorValues,
): Partial<OutboundConnectorSpec> & { isValidated?: boolean } {
  const back: Partial<OutboundConnectorSpec> & { isValidated?: boolean } = {};
  if (current.comment !== previous.comment) back.comment = previous.comment;
  if (current.connectorType !== previous.connectorType) back.connectorType = previous.connectorType;
  if (!sameSet(current.recipientDomains, previous.recipientDomains))
    back.recipientDomains = previous.recipientDomains;
  if (!sameSet(current.smartHosts, previous.smartHosts)) back.smartHosts = previous.smartHosts;
  if (current.useMxRecord !== previous.useMxRecord) back.useMxRecord = previous.useMxRecord;
  if (previous.tlsSettings && current.tlsSettings !== previous.tlsSettings)
    back.tlsSettings = previous.tlsSettings;
  if (current.enabled !== previous.enabled) back.enabled = previous.enabled;
  if (
    previous.isTransportRuleScoped !== undefined &&
    current.isTransportRuleScoped !== previous.isTransportRuleScoped
  )
    back.isTransportRuleScoped = previous.isTransportRuleScoped;
  if (previous.testMode !== undefined && current.testMode !== previous.testMode)
    back.testMode = previous.testMode;
  if (current.isValidated !== previous.isValidated) back.isValidated = previous.isValidated;
  return back;
}
