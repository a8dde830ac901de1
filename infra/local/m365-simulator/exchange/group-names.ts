/**
 * A distribution group's name, display name and primary address: the checks New- and
 * Set-DistributionGroup share, and Set-DistributionGroup itself (the service renames a group the
 * customer's admin renamed back to its name; the admin's rename is the control API's tamper
 * `rename-group`, which changes the same fields through `renameGroup`).
 * Sources: MicrosoftDocs/office-docs-powershell exchange/exchange-ps/exchange/Set-DistributionGroup.md
 * (-Identity: name, alias, DN, email address or GUID; -Name "the unique name of the group", at
 * most 64 characters; -PrimarySmtpAddress; -BypassSecurityGroupManagerCheck); the texts of the
 * refusals are New-DistributionGroup's (assumed the same).
 */
import type { SimRecipient, TenantState } from "../state.ts";
import {
  bare,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  checkSmtp,
  domainOf,
  EXCEPTION,
  type Row,
  required,
  same,
  str,
} from "./invoke.ts";
import { findRecipient, isAcceptedDomain, isDistributionGroup } from "./recipients.ts";

/** Source: New-DistributionGroup.md (DisplayName defaults to Name); 256 characters: assumed. */
export function checkDisplayName(displayName: string): void {
  if (displayName.length > 256) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The length of the property is too long. The maximum length is 256 and the length of the value provided is ${displayName.length}.`,
    );
  }
}

/** A name no other recipient has (`self`: the group being renamed). */
export function checkNameFree(state: TenantState, name: string, self?: SimRecipient): void {
  checkName(name);
  if (state.recipients.some((r) => r !== self && same(r.name, name))) {
    throw new CmdletError(
      400,
      EXCEPTION.ALREADY_EXISTS,
      `The name "${name}" is already being used. Please try another name.`,
      "Ex5A1B07",
    );
  }
}

/** A group's primary address: an SMTP address in an accepted domain. */
export function checkGroupAddress(state: TenantState, address: string): void {
  checkSmtp("PrimarySmtpAddress", address);
  // Source: assumed text; a primary address must be in an accepted domain of the organisation
  // (Exchange's email address policy / proxy address validation, OfficeDocs-Exchange accepted-domains docs).
  if (!isAcceptedDomain(state, address)) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The email address "${address}" isn't correct. The domain "${domainOf(address)}" isn't an accepted domain for your organization.`,
    );
  }
}

/** An address no other recipient has, as a primary or secondary address. */
export function checkAddressFree(state: TenantState, address: string, self?: SimRecipient): void {
  if (state.recipients.some((r) => r !== self && r.emailAddresses.some((a) => same(bare(a), address)))) {
    throw new CmdletError(
      400,
      EXCEPTION.PROXY_EXISTS,
      `The proxy address "SMTP:${address}" is already being used by the proxy addresses or LegacyExchangeDN. Please choose another proxy address.`,
    );
  }
}

/**
 * Renames `group` and/or gives it another primary address, after the same checks as at creation.
 * The Guid stays (a directory object's GUID never changes). A replaced primary address stays as a
 * secondary one (assumed, as Exchange keeps proxy addresses it does not generate).
 */
export function renameGroup(
  state: TenantState,
  group: SimRecipient,
  change: { name?: string; displayName?: string; address?: string },
): void {
  if (change.name !== undefined) checkNameFree(state, change.name, group);
  if (change.displayName !== undefined) checkDisplayName(change.displayName);
  const address = change.address === undefined ? undefined : bare(change.address);
  if (address !== undefined) checkGroupAddress(state, address);
  if (address !== undefined) checkAddressFree(state, address, group);
  if (change.name !== undefined) group.name = change.name;
  if (change.displayName !== undefined) group.displayName = change.displayName;
  if (address !== undefined && !same(address, group.primarySmtpAddress)) {
    const others = group.emailAddresses.filter((a) => !same(bare(a), address) && !a.startsWith("SMTP:"));
    group.emailAddresses = [`SMTP:${address}`, `smtp:${group.primarySmtpAddress}`, ...others];
    group.primarySmtpAddress = address;
  }
}

/** Set-DistributionGroup: the name, display name and primary address; no output. */
const setDistributionGroup =
  (checkManager: (group: SimRecipient, params: Record<string, unknown>) => void) =>
  ({ state, params }: CmdletContext): Row[] => {
    const identity = str(params, "Identity", true)!;
    const group = required(findRecipient(state, identity, isDistributionGroup), identity, state);
    checkManager(group, params);
    const name = str(params, "Name");
    const displayName = str(params, "DisplayName");
    const address = str(params, "PrimarySmtpAddress");
    renameGroup(state, group, {
      ...(name !== undefined && { name }),
      ...(displayName !== undefined && { displayName }),
      ...(address !== undefined && { address }),
    });
    return [];
  };

/** The cmdlet's definition; parameters: the ones the simulator models (others are refused). */
export function setDistributionGroupCmdlet(
  checkManager: (group: SimRecipient, params: Record<string, unknown>) => void,
): CmdletDefinition {
  return {
    name: "Set-DistributionGroup",
    parameters: [
      "Identity",
      "Name",
      "DisplayName",
      "PrimarySmtpAddress",
      "BypassSecurityGroupManagerCheck",
      "IgnoreNamingPolicy",
    ],
    shouldProcess: true,
    run: setDistributionGroup(checkManager),
  };
}
