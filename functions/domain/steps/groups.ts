import { missingFrom } from "../normalize.ts";
import type { GroupSpec } from "../tenant.ts";
import type { StepContext, StepOutcome } from "./context.ts";

/** Step `groups` (split only): the EU and US distribution lists, adopting existing ones. */
export async function applyGroups(ctx: StepContext): Promise<StepOutcome> {
  const groups = ctx.request.groups;
  if (!groups) return { changes: [] };
  const changes: string[] = [];
  await Promise.all([groups.eu, groups.us].map((spec) => applyGroup(ctx, spec, changes)));
  return { changes };
}

async function applyGroup(ctx: StepContext, spec: GroupSpec, changes: string[]): Promise<void> {
  const { exchange } = ctx.m365;
  const current = await exchange.getDistributionGroup(spec.name);
  if (!current) {
    await ctx.own("groups", spec.name);
    await exchange.newDistributionGroup(spec);
    changes.push(`created group ${spec.name} with ${spec.members.length} members`);
    return;
  }
  const members = await exchange.listDistributionGroupMembers(current.identity);
  // A group we created goes away whole on offboarding; in one we adopted, the memberships we add
  // are ours, and are recorded before they are made.
  const adopted = !ctx.owned.groups.includes(spec.name);
  // Members are added one at a time (Exchange has no bulk add); in order, to keep calls polite.
  for (const member of missingFrom(members, spec.members)) {
    if (adopted) await ctx.own("members", membership(spec.name, member));
    await exchange.addDistributionGroupMember(current.identity, member);
    changes.push(`added ${member} to ${spec.name}`);
  }
}

/** How an owned membership is recorded (group names may hold any character). */
export function membership(group: string, member: string): string {
  return JSON.stringify([group, member]);
}

export function parseMembership(value: string): { group: string; member: string } {
  const [group, member] = JSON.parse(value) as [string, string];
  return { group, member };
}
