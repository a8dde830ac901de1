/**
 * Finding the service's journal rules again when the customer's admin renamed them. Each rule the
 * service created or adopted has its immutable identity recorded (Get-JournalRule's `Guid`; every
 * journal rule cmdlet's `-Identity` takes the name or the GUID): a rule with a recorded identity is
 * read by it, so a renamed rule is still ours (its name is then a difference to correct), and a
 * rule someone else later gave our name is not mistaken for it. Records written before identities
 * were kept have none: their rules are read by name, as before.
 */
import type { JournalRule } from "../m365.ts";
import type { DiffContext } from "./context.ts";

/**
 * The rule the service knows as `name`: by its recorded identity when there is one and Exchange
 * still has it (whatever its name now), else by name. undefined when neither finds one.
 */
export async function findJournalRule(
  ctx: Pick<DiffContext, "m365" | "objectIds">,
  name: string,
): Promise<JournalRule | undefined> {
  const { exchange } = ctx.m365;
  const id = recordedRuleId(ctx, name);
  if (id) {
    const byId = await exchange.getJournalRule(id);
    // Only the rule of that Guid: the Get- pages warn that a value matching nothing may answer
    // every object, and a customer's rule must never be taken for ours.
    if (byId && byId.guid.toLowerCase() === id.toLowerCase()) return byId;
  }
  return exchange.getJournalRule(name);
}

/**
 * The rule the service created as `name`, to remove: the one of its recorded identity (whatever
 * the admin renamed it to, addressed by that identity), else the one of that very name.
 */
export async function findOwnedJournalRule(
  ctx: Pick<DiffContext, "m365" | "objectIds">,
  name: string,
): Promise<JournalRule | undefined> {
  const current = await findJournalRule(ctx, name);
  if (!current) return undefined;
  const id = recordedRuleId(ctx, name);
  if (id && current.guid.toLowerCase() === id.toLowerCase()) return { ...current, identity: current.guid };
  return current.name.toLowerCase() === name.toLowerCase() ? current : undefined;
}

/** The identity recorded for the rule the service knows as `name`, if any. */
export function recordedRuleId(ctx: Pick<DiffContext, "objectIds">, name: string): string | undefined {
  const ids = ctx.objectIds?.journalRules ?? {};
  return ids[name] ?? Object.entries(ids).find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}
