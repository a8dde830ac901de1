/** Journal rules: New-/Set-/Get-/Enable-/Disable-/Remove-JournalRule. */
import { randomUUID } from "node:crypto";
import type { SimJournalRule, TenantState } from "../state.ts";
import {
  bare,
  bool,
  type CmdletContext,
  type CmdletDefinition,
  CmdletError,
  checkName,
  checkSmtp,
  domainOf,
  EXCEPTION,
  has,
  isSmtp,
  notFound,
  oneOf,
  type Row,
  required,
  same,
  str,
} from "./invoke.ts";
import { findRecipient, isAcceptedDomain, isAnyGroup, isMailbox } from "./recipients.ts";

// Source: New-JournalRule.md (-Scope: Global, Internal, External; Global the default).
const JOURNAL_SCOPES = ["Global", "Internal", "External"] as const;

/**
 * Consumer webmail domains Exchange refuses as JournalEmailAddress. Source: OfficeDocs-Exchange
 * issue #2774 (live.com, gmail.com... refused; another tenant's address works); the exact list: assumed.
 */
const CONSUMER_DOMAINS = new Set([
  "outlook.com",
  "hotmail.com",
  "live.com",
  "msn.com",
  "gmail.com",
  "googlemail.com",
  "yahoo.com",
  "aol.com",
  "icloud.com",
]);

function journalTargetRefused(address: string): CmdletError {
  // Source: OfficeDocs-Exchange issue #2774 (InvalidOperationException, this text).
  return new CmdletError(
    400,
    EXCEPTION.INVALID_OPERATION,
    `The JournalEmailAddress can only be a mail user, a mail contact or an external address. "${address}" isn't one.`,
    "Ex2C6B7A",
  );
}

/**
 * JournalEmailAddress: an external address, or a mail user or mail contact of the organisation;
 * never a mailbox or a group. Source: journaling.md / configure-journaling.md (OfficeDocs-Exchange:
 * "can't be an Exchange Online mailbox"), OfficeDocs-Exchange issue #2774. An address in an
 * accepted domain that resolves to nothing: ManagementObjectNotFoundException (assumed).
 * Returns the address to store.
 */
function journalTarget(state: TenantState, value: string): string {
  const identity = bare(value);
  const r = findRecipient(state, identity);
  if (r) {
    if (isMailbox(r) || isAnyGroup(r)) throw journalTargetRefused(identity);
    return isSmtp(identity) ? identity : r.primarySmtpAddress;
  }
  if (!isSmtp(identity)) throw notFound(identity, state);
  if (isAcceptedDomain(state, identity)) throw notFound(identity, state);
  if (CONSUMER_DOMAINS.has(domainOf(identity))) throw journalTargetRefused(identity);
  return identity;
}

/** Recipient: an SmtpAddress (New-JournalRule.md) of a recipient of the organisation. */
function journalRecipient(state: TenantState, value: string | undefined): string | null {
  if (value === undefined) return null;
  checkSmtp("Recipient", value);
  const r = findRecipient(state, bare(value));
  if (!r) throw notFound(value, state);
  // Assumed: messages addressed to the alternate journaling mailbox aren't journaled
  // (OfficeDocs-Exchange journaling.md), so a rule journaling it is refused.
  if (
    state.journalingReportNdrTo &&
    r.emailAddresses.some((a) => same(bare(a), state.journalingReportNdrTo!))
  ) {
    throw new CmdletError(
      400,
      EXCEPTION.INVALID_OPERATION,
      `The recipient "${value}" is the address for undeliverable journal reports (JournalingReportNdrTo); messages sent to it can't be journaled.`,
    );
  }
  return r.primarySmtpAddress;
}

function findRule(state: TenantState, identity: string): SimJournalRule | undefined {
  return state.journalRules.find((r) => same(r.name, identity) || same(r.guid, identity));
}

function ruleRow(r: SimJournalRule): Row {
  return {
    Identity: r.name,
    Name: r.name,
    Guid: r.guid,
    JournalEmailAddress: r.journalEmailAddress,
    Scope: r.scope,
    Recipient: r.recipient,
    Enabled: r.enabled,
    IsValid: true,
  };
}

/**
 * Exchange's text when a journal rule needs JournalingReportNdrTo: New-JournalRule without it,
 * and Set-TransportConfig clearing it while journal rules exist (one resource string,
 * JournalNdrMailboxCannotBeNull, in decompiled Exchange code: PiratesRE/exchange_diff). The text
 * as Exchange Online printed it for Set-TransportConfig in a Hybrid Configuration Wizard log
 * (Microsoft Q&A question 1304515).
 */
export const NDR_REQUIRED_TEXT =
  "Before you create a journal rule, you must specify an email account to receive journal reports that can't be delivered to the journal destination. To do this, click OK. On the Journal rules page, select an email address to send undeliverable journal reports to. Browse to select a mailbox in your organization or an external contact to receive the undeliverable reports.";

const newJournalRule = ({ state, params, behaviours }: CmdletContext): Row[] => {
  const name = str(params, "Name", true)!;
  const journalEmailAddress = str(params, "JournalEmailAddress", true)!;
  checkName(name);
  // Source: an alternate journaling mailbox must be set first (OfficeDocs-Exchange configure-journaling.md);
  // class System.InvalidOperationException (Microsoft365DSC issue #5606); the text: NDR_REQUIRED_TEXT.
  if (!state.journalingReportNdrTo) {
    throw new CmdletError(400, EXCEPTION.INVALID_OPERATION, NDR_REQUIRED_TEXT, "Ex4B5C3A");
  }
  if (findRule(state, name)) {
    throw new CmdletError(
      400,
      EXCEPTION.ALREADY_EXISTS,
      `A journal rule with the name "${name}" already exists.`,
    );
  }
  // Behaviour `maxJournalRules` (default 50). Source: Exchange Online limits, "Journal, Transport,
  // and Inbox rule limits" (50 since 2019: MicrosoftDocs/OfficeDocs-O365ServiceDescriptions issue #78);
  // the error's text is assumed.
  if (state.journalRules.length >= behaviours.maxJournalRules) {
    throw new CmdletError(
      400,
      EXCEPTION.INVALID_OPERATION,
      `The organization already has the maximum number of journal rules (${behaviours.maxJournalRules}). Remove a journal rule before you create another.`,
    );
  }
  const rule: SimJournalRule = {
    guid: randomUUID(),
    name,
    journalEmailAddress: journalTarget(state, journalEmailAddress),
    scope: oneOf(params, "Scope", JOURNAL_SCOPES) ?? "Global",
    recipient: journalRecipient(state, str(params, "Recipient")),
    // Source: New-JournalRule.md ("new journal rules are disabled unless the Enabled parameter is set to $true").
    enabled: bool(params, "Enabled") ?? false,
  };
  state.journalRules.push(rule);
  return [ruleRow(rule)];
};

const setJournalRule = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity", true)!;
  const rule = required(findRule(state, identity), identity, state);
  const next = { ...rule };
  const name = str(params, "Name");
  if (name !== undefined) {
    checkName(name);
    const clash = findRule(state, name);
    if (clash && clash !== rule) {
      throw new CmdletError(
        400,
        EXCEPTION.ALREADY_EXISTS,
        `A journal rule with the name "${name}" already exists.`,
      );
    }
    next.name = name;
  }
  const address = str(params, "JournalEmailAddress");
  if (address !== undefined) next.journalEmailAddress = journalTarget(state, address);
  next.scope = oneOf(params, "Scope", JOURNAL_SCOPES) ?? next.scope;
  if (has(params, "Recipient")) next.recipient = journalRecipient(state, str(params, "Recipient"));
  Object.assign(rule, next);
  return [];
};

const getJournalRule = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity");
  if (identity === undefined) return state.journalRules.map(ruleRow);
  return [ruleRow(required(findRule(state, identity), identity, state))];
};

const toggleJournalRule =
  (enabled: boolean) =>
  ({ state, params }: CmdletContext): Row[] => {
    const identity = str(params, "Identity", true)!;
    required(findRule(state, identity), identity, state).enabled = enabled;
    return [];
  };

const removeJournalRule = ({ state, params }: CmdletContext): Row[] => {
  const identity = str(params, "Identity", true)!;
  const rule = required(findRule(state, identity), identity, state);
  state.journalRules.splice(state.journalRules.indexOf(rule), 1);
  return [];
};

// Parameter lists. Source: SYNTAX of each cmdlet page in MicrosoftDocs/office-docs-powershell
// (Exchange Online; DomainController is on-premises only). Set-JournalRule has no Enabled.
export const JOURNAL_RULE_CMDLETS: CmdletDefinition[] = [
  { name: "Get-JournalRule", parameters: ["Identity"], shouldProcess: false, run: getJournalRule },
  {
    name: "New-JournalRule",
    parameters: ["Name", "JournalEmailAddress", "Scope", "Recipient", "Enabled"],
    shouldProcess: true,
    run: newJournalRule,
  },
  {
    name: "Set-JournalRule",
    parameters: ["Identity", "Name", "JournalEmailAddress", "Scope", "Recipient"],
    shouldProcess: true,
    run: setJournalRule,
  },
  { name: "Enable-JournalRule", parameters: ["Identity"], shouldProcess: true, run: toggleJournalRule(true) },
  {
    name: "Disable-JournalRule",
    parameters: ["Identity"],
    shouldProcess: true,
    run: toggleJournalRule(false),
  },
  { name: "Remove-JournalRule", parameters: ["Identity"], shouldProcess: true, run: removeJournalRule },
];
