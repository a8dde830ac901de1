/**
 * check-access's look at the requested EU/US group members, reads only: every member must resolve
 * to a recipient of the tenant, so that an unknown one fails the onboarding before any change
 * (not after a group was created with the others).
 */
import { NotFoundError } from "../errors.ts";
import type { Recipient } from "../m365.ts";
import { normalizeAddress } from "../normalize.ts";
import type { GroupSpec } from "../tenant.ts";
import type { DiffContext } from "./context.ts";
import { findGroup } from "./object-identity.ts";

/** Up to this many names are resolved one by one; more are matched against one listing of the organisation. */
const ONE_BY_ONE = 50;
/** Unknown members named in the message; more are counted. */
const NAMED = 100;

/**
 * The requested members (of both groups, as given) that no recipient of the tenant has. A few
 * are resolved with Get-Recipient each (the groups step's comparison shares those reads); many
 * are matched against every name of every recipient, read once (Get-Recipient -ResultSize
 * Unlimited: a page per thousand recipients instead of a call per member).
 */
export async function unknownGroupMembers(ctx: DiffContext): Promise<string[]> {
  const groups = ctx.request.groups;
  if (!groups) return [];
  const { exchange } = ctx.m365;
  // Members already in their group need no look-up (the groups step reads the same lists).
  const pending = await Promise.all([groups.eu, groups.us].map((spec) => notYetMembers(ctx, spec)));
  const requested = [...new Map(pending.flat().map((m) => [normalizeAddress(m), m])).entries()];
  if (requested.length === 0) return [];
  if (requested.length <= ONE_BY_ONE) {
    const found = await Promise.all(
      requested.map(([, member]) =>
        exchange.getRecipient(member).catch((err: unknown): Recipient | undefined => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        }),
      ),
    );
    return requested.filter((_, i) => found[i] === undefined).map(([, member]) => member);
  }
  const names = new Set<string>();
  for (const recipient of await exchange.listRecipients()) {
    for (const name of recipient.names) names.add(name);
    if (recipient.guid) names.add(recipient.guid.toLowerCase());
  }
  return requested.filter(([key]) => !names.has(key)).map(([, member]) => member);
}

/** The requested members of a group that no current member of it (if it exists) goes by. */
async function notYetMembers(ctx: DiffContext, spec: GroupSpec): Promise<string[]> {
  const { exchange } = ctx.m365;
  const current = await findGroup(ctx, spec.name);
  if (!current) return spec.members;
  const names = new Set<string>();
  for (const m of await exchange.listDistributionGroupMembers(current.identity)) {
    for (const n of m.names) names.add(n);
  }
  return spec.members.filter((m) => !names.has(normalizeAddress(m)));
}

/** The message naming each unknown member (the first hundred, then how many more). */
export function unknownMembersMessage(unknown: readonly string[]): string {
  const named = unknown.slice(0, NAMED).join(", ");
  const more = unknown.length > NAMED ? ` and ${unknown.length - NAMED} more` : "";
  return `${unknown.length} requested group member(s) are not recipients in this tenant: ${named}${more}. Correct the groups' members and retry; nothing was changed.`;
}

/** Recipients that may own a group (ManagedBy): mailboxes, mail users, mail-enabled security groups. */
const OWNER_TYPES = new Set(["usermailbox", "sharedmailbox", "mailuser", "mailuniversalsecuritygroup"]);
/** Members looked at for a default owner. */
const OWNER_CANDIDATES = 10;

/**
 * The owner of a group created without requested owners. A group needs one, and an app that
 * creates it is no user account Exchange could record; so the first of its first ten members that
 * may own a group (a mailbox, mail user or mail-enabled security group) is its owner. Empty when
 * none of them may (then no ManagedBy is sent).
 */
export async function defaultOwners(ctx: DiffContext, spec: GroupSpec): Promise<string[]> {
  // One at a time: the first member is usually a mailbox, so one read is usually all it takes.
  for (const member of spec.members.slice(0, OWNER_CANDIDATES)) {
    const recipient = await ctx.m365.exchange.getRecipient(member).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (recipient && OWNER_TYPES.has(recipient.recipientTypeDetails.toLowerCase())) return [member];
  }
  return [];
}
