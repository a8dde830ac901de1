/** The control API's `tamper`: a change made in the tenant behind the product's back (drift). */
import { renameGroup } from "./exchange/group-names.ts";
import { isDistributionGroup } from "./exchange/recipients.ts";
import type { TenantState } from "./state.ts";
import type { SimTamper } from "./types.ts";

/** Applies `change` to the tenant's state; throws when what it names is not there. */
export function applyTamper(state: TenantState, tenantId: string, change: SimTamper): void {
  const same = (a: string | null | undefined, b: string) => (a ?? "").toLowerCase() === b.toLowerCase();
  const missing = (what: string): never => {
    throw new Error(`tamper: no ${what} in tenant ${tenantId}`);
  };
  const byAddress = (address: string) =>
    state.recipients.find(
      (r) =>
        same(r.primarySmtpAddress, address) ||
        r.emailAddresses.some((e) => same(e.replace(/^smtp:/i, ""), address)),
    );
  switch (change.action) {
    case "remove-journal-rule": {
      const rule = state.journalRules.find((r) => same(r.name, change.name)) ?? missing("journal rule");
      state.journalRules.splice(state.journalRules.indexOf(rule), 1);
      break;
    }
    case "disable-journal-rule": {
      const rule = state.journalRules.find((r) => same(r.name, change.name)) ?? missing("journal rule");
      rule.enabled = false;
      break;
    }
    case "rename-journal-rule": {
      const rule = state.journalRules.find((r) => same(r.name, change.name)) ?? missing("journal rule");
      if (state.journalRules.some((r) => r !== rule && same(r.name, change.newName))) {
        throw new Error(`tamper: a journal rule named ${change.newName} exists in tenant ${tenantId}`);
      }
      rule.name = change.newName;
      break;
    }
    case "rename-group": {
      const g =
        state.recipients.find((x) => isDistributionGroup(x) && same(x.name, change.name)) ?? missing("group");
      // The admin center's name field: assumed to set Name and DisplayName both (docs/m365-fidelity.md G12).
      renameGroup(state, g, {
        name: change.newName,
        displayName: change.newName,
        ...(change.newAddress !== undefined && { address: change.newAddress }),
      });
      break;
    }
    case "set-connector": {
      const c = state.connectors.find((x) => same(x.name, change.name)) ?? missing("connector");
      Object.assign(c, change.changes);
      c.isValidated = false;
      c.whenChanged = new Date().toISOString();
      break;
    }
    case "remove-recipient": {
      const r = byAddress(change.address) ?? missing(`recipient ${change.address}`);
      state.recipients.splice(state.recipients.indexOf(r), 1);
      for (const g of state.recipients) if (g.members) g.members = g.members.filter((m) => m !== r.guid);
      break;
    }
    case "set-ndr-address":
      state.journalingReportNdrTo = change.address;
      break;
    case "revoke-consent":
      state.consented = false;
      state.tokensRevokedAt = Math.floor(Date.now() / 1000);
      break;
    case "remove-group-member": {
      const g = state.recipients.find((x) => x.members && same(x.name, change.name)) ?? missing("group");
      const member = byAddress(change.address) ?? missing(`recipient ${change.address}`);
      g.members = (g.members ?? []).filter((m) => m !== member.guid);
      break;
    }
  }
}
