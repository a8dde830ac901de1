/** The control API's `addMailboxes`: many user mailboxes, and a group of them, for scale tests. */
import { demoMailboxes, newRecipient, type TenantState } from "./state.ts";
import type { SimulatorControl } from "./types.ts";

type AddMailboxesOptions = Parameters<SimulatorControl["addMailboxes"]>[1];

/** Adds the mailboxes (and the group) to the tenant's state; returns their addresses. */
export function createMailboxes(
  state: TenantState,
  tenantId: string,
  options: AddMailboxesOptions,
): string[] {
  const { domain } = demoMailboxes(tenantId);
  if (!/^[a-z0-9-]{1,40}$/.test(options.prefix) || !(options.count >= 0 && options.count <= 50_000))
    throw new Error("addMailboxes: prefix [a-z0-9-]{1,40}, count 0-50,000");
  const added = Array.from({ length: options.count }, (_, n) => {
    const address = `${options.prefix}-${n}@${domain}`;
    const alias = `${options.prefix}-${n}`;
    return newRecipient({ alias, name: alias, address, type: "UserMailbox", userPrincipalName: address });
  });
  state.recipients.push(...added);
  if (options.group) {
    const group = newRecipient({
      alias: options.group.address.split("@")[0]!,
      name: options.group.name,
      address: options.group.address,
      type: "MailUniversalDistributionGroup",
    });
    group.members = added.slice(0, options.group.members).map((r) => r.guid);
    state.recipients.push(group);
  }
  return added.map((r) => r.primarySmtpAddress);
}
