/** The organisation's transport settings: Get-/Set-TransportConfig (JournalingReportNdrTo). */
import {
  badValue,
  bare,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkSmtp,
  EXCEPTION,
  has,
  notFound,
  param,
  type Row,
  same,
} from "./invoke.ts";
import { NDR_REQUIRED_TEXT } from "./journal-rules.ts";
import { findRecipient, isAcceptedDomain, isAnyGroup } from "./recipients.ts";

const getTransportConfig = ({ state }: CmdletContext): Row[] => [
  {
    Identity: "Transport Settings",
    Name: "Transport Settings",
    // Source: an unset JournalingReportNdrTo reads back as "<>" (microsoft/Microsoft365DSC issue #3220).
    JournalingReportNdrTo: state.journalingReportNdrTo ?? "<>",
    MaxSendSize: "35 MB (36,700,160 bytes)",
    MaxReceiveSize: "36 MB (37,748,736 bytes)",
    JournalMessageExpirationDays: state.journalMessageExpirationDays ?? 0,
    ExternalDelayDsnEnabled: true,
    SmtpClientAuthenticationDisabled: true,
  },
];

/** What a clearing attempt answers when the `ndrClearing` behaviour refuses it. */
function cannotClear(mode: "while-no-rules" | "never"): CmdletError {
  // Exception class: System.InvalidOperationException (microsoft/Microsoft365DSC issue #5606); the
  // "while-no-rules" text is Exchange Online's (NDR_REQUIRED_TEXT), the "never" one assumed after
  // Microsoft365DSC PR #5851 ("Once set, the setting cannot be removed").
  return new CmdletError(
    400,
    EXCEPTION.INVALID_OPERATION,
    mode === "never"
      ? "JournalingReportNdrTo has to be a valid email address. Once set, the address for undeliverable journal reports can't be removed."
      : NDR_REQUIRED_TEXT,
    "ExB8E3D1",
  );
}

/** A whole number in [min, max], or undefined when the parameter is not given. */
function wholeNumber(
  params: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = param(params, name);
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "number" || typeof v === "string" ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badValue(name, v);
  return n;
}

/**
 * The settings besides JournalingReportNdrTo, checked before anything is set. Source:
 * Set-TransportConfig.md (-JournalMessageExpirationDays "an integer from 0 to 7", 0 the default;
 * -MaxRecipientEnvelopeLimit in Exchange Online "a custom value up to 1000" or Unlimited).
 */
function otherSettings(params: Record<string, unknown>): { journalMessageExpirationDays?: number } {
  for (const flag of [
    "ExternalDelayDsnEnabled",
    "SmtpClientAuthenticationDisabled",
    "ReplyAllStormProtectionEnabled",
  ])
    bool(params, flag);
  const limit = param(params, "MaxRecipientEnvelopeLimit");
  if (!(typeof limit === "string" && /^unlimited$/i.test(limit)))
    wholeNumber(params, "MaxRecipientEnvelopeLimit", 0, 1000);
  const days = wholeNumber(params, "JournalMessageExpirationDays", 0, 7);
  return days === undefined ? {} : { journalMessageExpirationDays: days };
}

const setTransportConfig = ({ state, params, behaviours }: CmdletContext): Row[] => {
  // Every value is checked before any is set: a refused call changes nothing.
  const other = otherSettings(params);
  if (!has(params, "JournalingReportNdrTo")) {
    Object.assign(state, other);
    return [];
  }
  const value = param(params, "JournalingReportNdrTo");
  if (value === null || value === "" || value === "<>") {
    // Behaviour `ndrClearing`: "allowed" | "while-no-rules" (default: decompiled server code refuses
    // while journal rules exist; assumed, no public text) | "never" (Microsoft365DSC PR #5851).
    if (behaviours.ndrClearing === "never") throw cannotClear("never");
    if (behaviours.ndrClearing === "while-no-rules" && state.journalRules.length > 0)
      throw cannotClear("while-no-rules");
    Object.assign(state, other, { journalingReportNdrTo: null });
    return [];
  }
  if (typeof value !== "string") throw badValue("JournalingReportNdrTo", value);
  // Source: Set-TransportConfig.md (-JournalingReportNdrTo is an SmtpAddress).
  checkSmtp("JournalingReportNdrTo", value);
  const address = bare(value);
  const r = findRecipient(state, address);
  // Source: groups and teams can't receive them (Cloudflare docs PR #24353: "you cannot use a
  // team or group address"; docs/m365-fidelity.md); the refusal's class and text are assumed.
  if (r && isAnyGroup(r)) {
    throw new CmdletError(
      400,
      EXCEPTION.INVALID_OPERATION,
      `The address "${address}" belongs to a group (${r.recipientTypeDetails}). JournalingReportNdrTo must be a mailbox, a mail user, a mail contact or an external address.`,
    );
  }
  // Assumed: an address in an accepted domain must resolve to a recipient of the organisation.
  if (!r && isAcceptedDomain(state, address)) throw notFound(address, state);
  // Source: decompiled Exchange server code (PiratesRE/exchange_diff: SetTransportConfig.cs,
  // JournalRuleObject.ValidateJournalNdrMailboxSetting): in a multi-tenant organisation an address
  // equal to a journal rule's Recipient is refused (InvalidOperationException,
  // JournalNdrMailboxInJournalRuleRecipient); equal to a JournalEmailAddress is a warning only.
  // The text is assumed.
  if (state.journalRules.some((rule) => rule.recipient !== null && same(rule.recipient, address))) {
    throw new CmdletError(
      400,
      EXCEPTION.INVALID_OPERATION,
      `The address "${address}" is the recipient of a journal rule, so it can't receive undeliverable journal reports. Use an address that no journal rule journals.`,
    );
  }
  Object.assign(state, other, { journalingReportNdrTo: address });
  return [];
};

// Source: SYNTAX of Get-/Set-TransportConfig.md (MicrosoftDocs/office-docs-powershell), the
// parameters Exchange Online has that the simulator reads or may be sent.
export const TRANSPORT_CONFIG_CMDLETS: CmdletDefinition[] = [
  { name: "Get-TransportConfig", parameters: ["Identity"], shouldProcess: false, run: getTransportConfig },
  {
    name: "Set-TransportConfig",
    parameters: [
      "Identity",
      "JournalingReportNdrTo",
      "ExternalDelayDsnEnabled",
      "SmtpClientAuthenticationDisabled",
      "JournalMessageExpirationDays",
      "MaxRecipientEnvelopeLimit",
      "ReplyAllStormProtectionEnabled",
    ],
    shouldProcess: true,
    run: setTransportConfig,
  },
];
