/**
 * Finding the service's journal rules and distribution groups again when the customer's admin
 * renamed them. Each rule or group the service created or adopted has its immutable identity
 * recorded (the `Guid` that Get-JournalRule and Get-DistributionGroup answer; every cmdlet of
 * both takes the name or the GUID as `-Identity`): an object with a recorded identity is read by
 * it, so a renamed one is still ours (its name is then a difference to correct), and an object
 * someone else later gave our name is not mistaken for it. Records written before identities
 * were kept have none: their objects are read by name, as before.
 */
import type { DistributionGroup, ExchangeOperations, JournalRule } from "../m365.ts";
import type { IdentifiedKind } from "../owned.ts";
import type { DiffContext } from "./context.ts";

type IdentityContext = Pick<DiffContext, "m365" | "objectIds">;
/** What each identified kind reads as. */
interface Objects {
  journalRules: JournalRule;
  groups: DistributionGroup;
}
const READS: {
  [K in IdentifiedKind]: (x: ExchangeOperations, identity: string) => Promise<Objects[K] | undefined>;
} = {
  journalRules: (x, identity) => x.getJournalRule(identity),
  groups: (x, identity) => x.getDistributionGroup(identity),
};

const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The object the service knows as `name`: by its recorded identity when there is one and Exchange
 * still has it (whatever its name now; then addressed by that identity, so that a rename in the
 * same run does not lose it), else by name. undefined when neither finds one.
 */
export async function findObject<K extends IdentifiedKind>(
  ctx: IdentityContext,
  kind: K,
  name: string,
): Promise<Objects[K] | undefined> {
  const read = (identity: string) => READS[kind](ctx.m365.exchange, identity);
  const id = recordedId(ctx, kind, name);
  if (id) {
    const byId = await read(id);
    // Only the object of that Guid: the Get- pages warn that a value matching nothing may answer
    // every object, and a customer's object must never be taken for ours.
    if (byId && sameId(byId.guid, id)) return { ...byId, identity: byId.guid };
  }
  return read(name);
}

/**
 * The object the service created (or adopted) as `name`, to remove or change: the one of its
 * recorded identity (whatever the admin renamed it to), else the one of that very name (an
 * identity also matches aliases and addresses).
 */
export async function findOwnedObject<K extends IdentifiedKind>(
  ctx: IdentityContext,
  kind: K,
  name: string,
): Promise<Objects[K] | undefined> {
  const current = await findObject(ctx, kind, name);
  if (!current) return undefined;
  const id = recordedId(ctx, kind, name);
  if (id && sameId(current.guid, id)) return current;
  return sameId(current.name, name) ? current : undefined;
}

/**
 * Whether `current`, found under the name the service knows an object by, is another object than
 * the one whose identity was recorded: ours is gone (Exchange no longer has its Guid) and someone
 * gave its name to an object of their own.
 */
export function replacedObject(
  ctx: Pick<DiffContext, "objectIds">,
  kind: IdentifiedKind,
  name: string,
  current: { guid?: string },
): boolean {
  const id = recordedId(ctx, kind, name);
  return Boolean(id && current.guid && !sameId(current.guid, id));
}

/** The identity recorded for the object of `kind` the service knows as `name`, if any. */
export function recordedId(
  ctx: Pick<DiffContext, "objectIds">,
  kind: IdentifiedKind,
  name: string,
): string | undefined {
  const ids = ctx.objectIds?.[kind] ?? {};
  return ids[name] ?? Object.entries(ids).find(([n]) => sameId(n, name))?.[1];
}

export const findJournalRule = (ctx: IdentityContext, name: string) => findObject(ctx, "journalRules", name);
export const findOwnedJournalRule = (ctx: IdentityContext, name: string) =>
  findOwnedObject(ctx, "journalRules", name);
export const findGroup = (ctx: IdentityContext, name: string) => findObject(ctx, "groups", name);
/**
 * A group is ours only if it is the one recorded: a list of our name with another Guid is the
 * customer's (ours was removed), never removed as ours. (A rule of our name is still taken for
 * ours when the recorded one is gone: a rule sending to the provider must never keep journaling
 * to a previous owner's account.)
 */
export const findOwnedGroup = async (ctx: IdentityContext, name: string) => {
  const group = await findOwnedObject(ctx, "groups", name);
  return group && !replacedObject(ctx, "groups", name, group) ? group : undefined;
};
