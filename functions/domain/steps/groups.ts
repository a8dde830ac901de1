import { InvalidGroupMemberError, NotFoundError } from "../errors.ts";
import type { DistributionGroup, Recipient } from "../m365.ts";
import { normalizeAddress, sameText } from "../normalize.ts";
import type { GroupSpec } from "../tenant.ts";
import { createOwned, type DiffContext, type StepContext, type StepOutcome, settled } from "./context.ts";
import {
  addAction,
  applyObjects,
  emptyDiff,
  type StepAction,
  type StepDiff,
  summariseMembers,
} from "./diff.ts";
import { defaultOwners } from "./group-members.ts";
import { findGroup, recordedId, replacedObject } from "./object-identity.ts";

const groupObject = (name: string) => `distribution group "${name}"`;
const sameGuid = (a: string | undefined, b: string) => Boolean(a && b && a.toLowerCase() === b.toLowerCase());

/** Step `groups` (split only), reads only: groups missing, and members missing from them. */
export async function diffGroups(ctx: DiffContext): Promise<StepDiff> {
  const diff = emptyDiff("groups");
  const groups = ctx.request.groups;
  if (!groups) return diff;
  // Side by side, merged in the same order every time (EU, then US), so that plans compare.
  const parts = await settled([groups.eu, groups.us].map((spec) => diffGroup(ctx, spec)));
  for (const part of parts) {
    diff.differences.push(...part.differences);
    diff.writes.push(...part.writes);
    diff.objects.push(...part.objects);
  }
  return diff;
}

async function diffGroup(ctx: DiffContext, spec: GroupSpec): Promise<StepDiff> {
  const diff = emptyDiff("groups");
  const { exchange } = ctx.m365;
  const object = groupObject(spec.name);
  // By recorded identity first: a group the customer's admin renamed is still ours.
  const current = await findGroup(ctx, spec.name);
  if (!current) {
    // Always an owner: an app that creates a group is no user account Exchange could record.
    const owners = spec.owners?.length ? spec.owners : await defaultOwners(ctx, spec);
    diff.differences.push({ step: "groups", object, field: "exists", expected: true, actual: false });
    addAction(
      diff,
      object,
      {
        kind: "new-group",
        spec: {
          name: spec.name,
          primarySmtpAddress: spec.primarySmtpAddress,
          members: spec.members,
          ...(owners.length > 0 ? { owners } : {}),
        },
      },
      "The group does not exist.",
    );
    return diff;
  }
  // One we created, unless found by its alias or an address under another name (then it may be
  // the customer's: what we add to it is recorded and taken out again, as in one we adopted).
  // Nor one of our name when ours was removed (its recorded Guid is gone): the customer's list.
  const adopted =
    !ctx.owned.groups.includes(spec.name) ||
    replacedObject(ctx, "groups", spec.name, current) ||
    !(sameText(current.name, spec.name) || sameGuid(recordedId(ctx, "groups", spec.name), current.guid));
  const missing = await missingMembers(
    ctx,
    await exchange.listDistributionGroupMembers(current.identity),
    spec,
  );
  identityAndName(ctx, diff, spec.name, current, adopted, missing.length > 0);
  if (missing.length === 0) return diff;
  diff.differences.push({
    step: "groups",
    object,
    field: "members",
    expected: summariseMembers(spec.members),
    actual: { missing: summariseMembers(missing.map((m) => m.requested)) },
  });
  addAction(
    diff,
    object,
    {
      kind: "add-members",
      group: spec.name,
      identity: current.identity,
      adopted,
      members: missing,
    },
    `${missing.length} member(s) are not in the group.`,
  );
  return diff;
}

/**
 * A group that is ours gets its identity recorded, once: one of our very name that we created or
 * adopt to add members (a group found by its alias or an address, named otherwise, is not taken
 * for ours: it may be the customer's, and a rename or removal by that Guid would hit their list).
 * One we created found by that identity under another name was renamed by the customer's admin:
 * its name is a difference, and it gets our name back (its address stays what the admin chose:
 * the journal rule journals the group's address as Exchange reads it, docs/m365-fidelity.md
 * G12). An adopted group is the customer's: found by its identity, it keeps the name they give it.
 */
function identityAndName(
  ctx: DiffContext,
  diff: StepDiff,
  name: string,
  current: DistributionGroup,
  adopted: boolean,
  adding: boolean,
): void {
  const object = groupObject(name);
  const id = recordedId(ctx, "groups", name);
  const known = sameGuid(id, current.guid);
  const ours = (!adopted || adding) && sameText(current.name, name);
  // Recorded once: a list of our name with another Guid than the recorded one is the customer's
  // (ours was removed), never recorded (then renamed or removed) as ours.
  if (ours && current.guid && !id)
    addAction(diff, object, { kind: "record-id", idKind: "groups", name, id: current.guid }, "");
  if (adopted || !known || sameText(current.name, name)) return;
  diff.differences.push({ step: "groups", object, field: "name", expected: name, actual: current.name });
  addAction(
    diff,
    object,
    { kind: "rename-group", name, identity: current.identity },
    "The group was renamed: it gets its name back.",
  );
}

/** Step `groups`: creates the groups and adds the members `diffGroups` found missing. */
export async function applyGroupsDiff(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes = await applyObjects(ctx, diff, async (action) => {
    switch (action.kind) {
      case "new-group": {
        const created = await createOwned(ctx, "groups", action.spec.name, (options) =>
          exchange.newDistributionGroup(action.spec, options),
        );
        if (created.guid) await ctx.recordId("groups", action.spec.name, created.guid);
        return `created group ${action.spec.name} with ${action.spec.members.length} members`;
      }
      case "rename-group":
        await exchange.setDistributionGroup(action.identity, { name: action.name });
        return `gave group ${action.name} its name back`;
      case "add-members": {
        const added = await addMembers(ctx, action);
        return added.length > 0 ? added.join("\n") : undefined;
      }
      default:
        throw new Error(`groups cannot apply ${action.kind}`);
    }
  });
  return { changes: changes.flatMap((c) => c.split("\n")) };
}

/**
 * Adds the missing members, a batch at a time. A group we created goes away whole on
 * offboarding; in one we adopted, only the memberships we add are ours: recorded before they
 * are made (a batch at a time, in one fenced write: a timed-out attempt stops at its next batch
 * once its retry has started), forgotten if Exchange says it was there.
 * Add-DistributionGroupMember takes one member per call; Update-DistributionGroupMember would
 * replace the whole list (docs/m365-fidelity.md). Returns what was added.
 */
async function addMembers(
  ctx: StepContext,
  action: Extract<StepAction, { kind: "add-members" }>,
): Promise<string[]> {
  const { exchange } = ctx.m365;
  const { members } = action;
  const changes: string[] = [];
  let added = 0;
  for (let start = 0; start < members.length; start += MEMBER_BATCH) {
    const batch = members.slice(start, start + MEMBER_BATCH);
    if (action.adopted)
      await ctx.own(
        "members",
        batch.map((m) => membership(action.group, m.id)),
      );
    const notOurs: string[] = [];
    // Ten adds per request (Exchange's $batch): a batch of 100 is ten requests.
    const results = await exchange.addDistributionGroupMembers(
      action.identity,
      batch.map((m) => m.id),
    );
    for (const [i, result] of results.entries()) {
      const member = batch[i]!;
      if (result.added) added++;
      else if (action.adopted) notOurs.push(membership(action.group, member.id));
      if (result.added && members.length <= LISTED_ADDS)
        changes.push(`added ${member.requested} to ${action.group}`);
    }
    if (notOurs.length > 0) await ctx.disown("members", notOurs);
    if (members.length > MEMBER_BATCH) {
      const done = Math.min(start + MEMBER_BATCH, members.length);
      await ctx.progress(`${action.group}: members ${count(done)} of ${count(members.length)}`);
    }
  }
  if (members.length > LISTED_ADDS)
    changes.push(`added ${added} of ${members.length} missing members to ${action.group}`);
  return changes;
}

const count = (n: number) => n.toLocaleString("en-US");

/** Memberships recorded (and added) per batch: one store write per batch, not per member. */
export const MEMBER_BATCH = 100;
/** Up to this many adds are listed one by one in the step's changes; more are summed up. */
const LISTED_ADDS = 50;

/**
 * The requested members that are not in the group, compared by the recipient they resolve to,
 * not by the string: a member named by its UPN, alias or any proxy address is matched against
 * every name the group's members go by, and only names that match none are resolved with
 * Get-Recipient (so a re-run on a complete group makes no extra call). An unknown member is an
 * error before any membership changes.
 */
async function missingMembers(
  ctx: DiffContext,
  members: readonly Recipient[],
  spec: GroupSpec,
): Promise<{ requested: string; id: string }[]> {
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const m of members) {
    for (const n of m.names) names.add(n);
    if (m.guid) ids.add(m.guid.toLowerCase());
  }
  const unmatched = [...new Map(spec.members.map((m) => [normalizeAddress(m), m])).entries()].filter(
    ([key]) => !names.has(key),
  );
  const missing: { requested: string; id: string }[] = [];
  const unknown: string[] = [];
  for (const [, requested] of unmatched) {
    let recipient: Recipient | undefined;
    try {
      recipient = await ctx.m365.exchange.getRecipient(requested);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (!recipient) {
      unknown.push(requested);
      continue;
    }
    const id = recipient.guid || recipient.primarySmtpAddress;
    if (ids.has(id.toLowerCase())) continue;
    ids.add(id.toLowerCase());
    missing.push({ requested, id });
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).join(", ");
    throw new InvalidGroupMemberError(
      `Group "${spec.name}": ${unknown.length} member(s) are not recipients in this tenant (${shown}${unknown.length > 10 ? ", ..." : ""}). Correct the members and retry.`,
    );
  }
  return missing;
}

/** How an owned membership is recorded: the group's name and the member's Exchange identity. */
export function membership(group: string, member: string): string {
  return JSON.stringify([group, member]);
}

export function parseMembership(value: string): { group: string; member: string } {
  const [group, member] = JSON.parse(value) as [string, string];
  return { group, member };
}
