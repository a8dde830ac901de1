/**
 * A distribution group's membership restrictions and sender authentication: what New-
 * DistributionGroup takes, its defaults per group type, and how Get-DistributionGroup shows them.
 * Source: New-DistributionGroup.md (-MemberJoinRestriction: Open, Closed, ApprovalRequired, Closed
 * the default, Open not on security groups; -MemberDepartRestriction: Open, Closed, Open the default
 * for distribution groups and Closed for security groups, Open not on security groups;
 * -RequireSenderAuthenticationEnabled: $true the default). The refusal texts are assumed.
 */
import type { SimGroupSettings, SimRecipient } from "../state.ts";
import { bool, CmdletError, checkName, EXCEPTION, oneOf, type Params, type Row, str } from "./invoke.ts";

const JOIN = ["Open", "Closed", "ApprovalRequired"] as const;
const DEPART = ["Open", "Closed"] as const;

const isSecurity = (type: string) => type === "MailUniversalSecurityGroup";

/** The settings New-DistributionGroup gives a group of that type, from its parameters. */
export function newGroupSettings(params: Params, type: string): SimGroupSettings {
  const join = oneOf(params, "MemberJoinRestriction", JOIN) ?? "Closed";
  const depart = oneOf(params, "MemberDepartRestriction", DEPART) ?? (isSecurity(type) ? "Closed" : "Open");
  for (const [parameter, value] of [
    ["MemberJoinRestriction", join],
    ["MemberDepartRestriction", depart],
  ] as const) {
    if (isSecurity(type) && value === "Open") {
      throw new CmdletError(
        400,
        EXCEPTION.TASK_ARGUMENT,
        `${parameter} can't be set to Open on a mail-enabled security group. Use Closed or ApprovalRequired.`,
      );
    }
  }
  return {
    memberJoinRestriction: join,
    memberDepartRestriction: depart,
    requireSenderAuthenticationEnabled: bool(params, "RequireSenderAuthenticationEnabled") ?? true,
  };
}

/** The properties Get-/New-DistributionGroup show (defaults for a group made before they were kept). */
export function groupSettingsRow(r: SimRecipient): Row {
  const s = r.groupSettings;
  return {
    MemberJoinRestriction: s?.memberJoinRestriction ?? "Closed",
    MemberDepartRestriction:
      s?.memberDepartRestriction ?? (isSecurity(r.recipientTypeDetails) ? "Closed" : "Open"),
    RequireSenderAuthenticationEnabled: s?.requireSenderAuthenticationEnabled ?? true,
    // Source: Set-DistributionGroup.md (-HiddenFromAddressListsEnabled: $false the default; not a New parameter).
    HiddenFromAddressListsEnabled: false,
  };
}

/** One character an alias may hold: letters, digits, !#%*+-/=?^_~ $&'`{}| and U+00A1 to U+00FF. */
const ALIAS_CHAR = /[A-Za-z0-9!#%*+\-/=?^_~$&'`{}|\u00A1-\u00FF]/;
const ALIAS = new RegExp(`^${ALIAS_CHAR.source}+(\\.${ALIAS_CHAR.source}+)*$`);

/**
 * The group's alias: a given Alias as it is, refused when it has a character Exchange does not
 * take or a period not between two such characters; else the Name without its spaces, other
 * characters turned into `?`. At most 64 characters. Source: New-DistributionGroup.md (-Alias);
 * the refusal's text is assumed.
 */
export function groupAlias(params: Params, name: string): string {
  const given = str(params, "Alias");
  if (given === undefined) {
    return [...name.replace(/\s+/g, "")]
      .map((ch) => (ch === "." || ALIAS_CHAR.test(ch) ? ch : "?"))
      .join("")
      .replace(/^\.+|\.+$/g, "")
      .replace(/\.{2,}/g, ".")
      .slice(0, 64);
  }
  checkName(given);
  if (!ALIAS.test(given)) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The alias "${given}" isn't valid. It can contain letters, numbers and !, #, $, %, &, ', *, +, -, /, =, ?, ^, _, \`, {, |, }, ~; a period must be between two of them.`,
    );
  }
  return given;
}
