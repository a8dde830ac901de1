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
  // we add are ours: recorded before they are made, forgotten if Exchange says it was there.
  const adopted = !ctx.owned.groups.includes(spec.name);
  for (const member of missing) {
    const record = membership(spec.name, member.id);
    if (adopted) await ctx.own("members", record);
    const { added } = await exchange.addDistributionGroupMember(current.identity, member.id);
    if (added) changes.push(`added ${member.requested} to ${spec.name}`);
    else if (adopted) await ctx.disown("members", record);
  }
}

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
