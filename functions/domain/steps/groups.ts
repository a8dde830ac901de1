import { InvalidGroupMemberError, NotFoundError } from "../errors.ts";
import type { Recipient } from "../m365.ts";
import { normalizeAddress } from "../normalize.ts";
import type { GroupSpec } from "../tenant.ts";
import { type StepContext, type StepOutcome, settled } from "./context.ts";

/** Step `groups` (split only): the EU and US distribution lists, adopting existing ones. */
export async function applyGroups(ctx: StepContext): Promise<StepOutcome> {
  const groups = ctx.request.groups;
  if (!groups) return { changes: [] };
  const changes: string[] = [];
  await settled([groups.eu, groups.us].map((spec) => applyGroup(ctx, spec, changes)));
  return { changes };
}

async function applyGroup(ctx: StepContext, spec: GroupSpec, changes: string[]): Promise<void> {
  const { exchange } = ctx.m365;
  const current = await exchange.getDistributionGroup(spec.name);
  if (!current) {
    await ctx.own("groups", spec.name);
    await exchange.newDistributionGroup(
      {
        name: spec.name,
        primarySmtpAddress: spec.primarySmtpAddress,
        members: spec.members,
        ...(spec.owners?.length ? { owners: spec.owners } : {}),
      },
      { ownedBefore: ctx.owned.groups.includes(spec.name) },
    );
    changes.push(`created group ${spec.name} with ${spec.members.length} members`);
    return;
  }
  const missing = await missingMembers(
    ctx,
    await exchange.listDistributionGroupMembers(current.identity),
    spec,
  );
  // A group we created goes away whole on offboarding; in one we adopted, only the memberships
  // we add are ours: recorded before they are made (a batch at a time, in one fenced write: a
  // timed-out attempt stops at its next batch once its retry has started), forgotten if
  // Exchange says it was there. Add-DistributionGroupMember takes one member per call;
  // Update-DistributionGroupMember would replace the whole list (docs/m365-fidelity.md).
  const adopted = !ctx.owned.groups.includes(spec.name);
  let added = 0;
  for (let start = 0; start < missing.length; start += MEMBER_BATCH) {
    const batch = missing.slice(start, start + MEMBER_BATCH);
    if (adopted)
      await ctx.own(
        "members",
        batch.map((m) => membership(spec.name, m.id)),
      );
    const notOurs: string[] = [];
    for (const member of batch) {
      const result = await exchange.addDistributionGroupMember(current.identity, member.id);
      if (result.added) added++;
      else if (adopted) notOurs.push(membership(spec.name, member.id));
      if (result.added && missing.length <= LISTED_ADDS)
        changes.push(`added ${member.requested} to ${spec.name}`);
    }
    if (notOurs.length > 0) await ctx.disown("members", notOurs);
    if (missing.length > MEMBER_BATCH) {
      const done = Math.min(start + MEMBER_BATCH, missing.length);
      await ctx.progress(`${spec.name}: members ${count(done)} of ${count(missing.length)}`);
    }
  }
  if (missing.length > LISTED_ADDS)
    changes.push(`added ${added} of ${missing.length} missing members to ${spec.name}`);
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
  ctx: StepContext,
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
