import { sameAddress } from "../normalize.ts";
import type { OwnedKind } from "../store.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { parseMembership } from "./groups.ts";

export const OFFBOARD_PARTS = ["journal-rules", "groups", "connectors", "journal-settings"] as const;
export type OffboardPart = (typeof OFFBOARD_PARTS)[number];

export interface OffboardContext extends StepContext {
  /** JournalingReportNdrTo before onboarding; undefined when it was never changed by us. */
  previousNdrTo: string | null | undefined;
  /** Forgets an object once it is gone. */
  disown(kind: OwnedKind, name: string): Promise<void>;
}

/**
 * Removes what this service created, and only that: the names recorded as owned. An object
 * already gone counts as removed. Rules go first (they reference the groups).
 */
export async function offboard(ctx: OffboardContext, part: OffboardPart): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes: string[] = [];
  const removeOwned = async (
    kind: OwnedKind,
    get: (name: string) => Promise<{ identity: string } | undefined>,
    remove: (identity: string) => Promise<void>,
  ) => {
    for (const name of ctx.owned[kind]) {
      const current = await get(name);
      if (current) {
        await remove(current.identity);
        changes.push(`removed ${name}`);
      }
      await ctx.disown(kind, name);
    }
  };
  switch (part) {
    case "journal-rules":
      await removeOwned(
        "journalRules",
        (n) => exchange.getJournalRule(n),
        (id) => exchange.removeJournalRule(id),
      );
      break;
    case "groups":
      // Memberships we added to groups we adopted first, then the groups we created.
      for (const value of ctx.owned.members) {
        const { group, member } = parseMembership(value);
        const current = await exchange.getDistributionGroup(group);
        if (current) {
          await exchange.removeDistributionGroupMember(current.identity, member);
          changes.push(`removed ${member} from ${group}`);
        }
        await ctx.disown("members", value);
      }
      await removeOwned(
        "groups",
        (n) => exchange.getDistributionGroup(n),
        (id) => exchange.removeDistributionGroup(id),
      );
      break;
    case "connectors":
      await removeOwned(
        "connectors",
        (n) => exchange.getOutboundConnector(n),
        (id) => exchange.removeOutboundConnector(id),
      );
      break;
    case "journal-settings": {
      if (ctx.previousNdrTo === undefined) break;
      const current = await exchange.getTransportConfig();
      // Restore only what we set: an address someone changed since is theirs now.
      if (sameAddress(current.journalingReportNdrTo, ctx.request.ndrAddress)) {
        await exchange.setTransportConfig({ journalingReportNdrTo: ctx.previousNdrTo });
        changes.push(`restored JournalingReportNdrTo to ${ctx.previousNdrTo ?? "(empty)"}`);
      }
      break;
    }
  }
  return { changes };
}
