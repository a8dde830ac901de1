/**
 * The read-only comparison that onboarding, drift checks and plans share: each step's `diff`
 * reads the tenant and says what differs from the desired state and which writes would correct
 * it; its `apply` makes exactly those writes. Onboarding runs diff then apply, a drift check runs
 * diff only, a plan is the diffs' writes: they cannot disagree.
 *
 * Everything here is plain JSON (no class instances, no functions), so that a diff can be stored,
 * sent through a workflow state or compared with an approved plan.
 */
import { createHash } from "node:crypto";
import type { DistributionGroupSpec, JournalRuleSpec, OutboundConnectorSpec } from "../m365.ts";
import type { AdoptedObjects, IdentifiedKind } from "../owned.ts";
import type { Difference, Json, PlannedWrite } from "../plan.ts";
import type { StepName } from "../tenant.ts";
import { type StepContext, settled } from "./context.ts";

export type { Difference, Json, PlannedWrite } from "../plan.ts";

/** Bookkeeping and writes `apply` carries out, in order, for one object. */
export type StepAction =
  | { kind: "adopt"; adoptKind: "connectors"; name: string; previous: AdoptedObjects["connectors"][string] }
  | {
      kind: "adopt";
      adoptKind: "journalRules";
      name: string;
      previous: AdoptedObjects["journalRules"][string];
    }
  | { kind: "new-connector"; spec: OutboundConnectorSpec }
  | {
      kind: "set-connector";
      name: string;
      identity: string;
      changes: Partial<OutboundConnectorSpec> & { isValidated?: boolean };
    }
  /** `identity` null: Exchange cannot find the connector (yet). */
  | {
      kind: "validate-connector";
      name: string;
      identity: string | null;
      recipient: string;
      /** Adopted after a pass (a connector someone else made): its values before our mark. */
      previous?: AdoptedObjects["connectors"][string];
    }
  | { kind: "set-ndr-address"; previous: string | null; address: string }
  | { kind: "new-group"; spec: DistributionGroupSpec }
  /** A group of ours the customer's admin renamed gets its name back (its address stays). */
  | { kind: "rename-group"; name: string; identity: string }
  | {
      kind: "add-members";
      group: string;
      identity: string;
      /** Ours to record (a group we adopted: only the memberships we add are ours). */
      adopted: boolean;
      members: { requested: string; id: string }[];
    }
  | { kind: "new-journal-rule"; spec: JournalRuleSpec }
  | {
      kind: "set-journal-rule";
      name: string;
      identity: string;
      /** `name`: a rule the customer's admin renamed gets its name back. */
      changes: Partial<Omit<JournalRuleSpec, "enabled">>;
    }
  | { kind: "enable-journal-rule"; name: string; identity: string }
  // Objects the request no longer uses (steps/leftovers.ts), applied in order.
  | { kind: "remove-journal-rule"; name: string; identity: string }
  | {
      kind: "restore-journal-rule";
      name: string;
      identity: string;
      changes: Partial<Omit<JournalRuleSpec, "name" | "enabled">>;
      disable: boolean;
    }
  | { kind: "remove-group"; name: string; identity: string }
  | { kind: "remove-connector"; name: string; identity: string }
  | {
      kind: "restore-connector";
      name: string;
      identity: string;
      changes: Partial<OutboundConnectorSpec> & { isValidated?: boolean };
    }
  /** Bookkeeping only: an owned or adopted rule's or group's immutable identity, to find it after a rename. */
  | { kind: "record-id"; idKind: IdentifiedKind; name: string; id: string }
  /** Bookkeeping only: the object is gone already. */
  | { kind: "forget-owned"; ownedKind: "connectors" | "groups" | "journalRules"; name: string }
  | { kind: "forget-adopted"; adoptKind: "connectors" | "journalRules"; name: string };

/** What one step's comparison found. */
export interface StepDiff {
  step: StepName;
  differences: Difference[];
  /** The writes `apply` would make, in order. */
  writes: PlannedWrite[];
  /** Per object: what `apply` does, in order; objects are independent (applied side by side). */
  objects: { object: string; actions: StepAction[] }[];
}

/** A diff with nothing to do. */
export function emptyDiff(step: StepName): StepDiff {
  return { step, differences: [], writes: [], objects: [] };
}

/** How many members a summarised list shows. */
export const SHOWN_MEMBERS = 5;

/**
 * A member list as recorded in plans and the audit trail: the count, the first few, and a
 * digest of all of them (so that two lists of the same length still compare as different).
 */
export function summariseMembers(members: readonly string[]): Json {
  return {
    count: members.length,
    first: members.slice(0, SHOWN_MEMBERS),
    sha256: createHash("sha256")
      .update(members.map((m) => m.toLowerCase()).join("\n"))
      .digest("hex")
      .slice(0, 16),
  };
}

/** The cmdlet(s) and parameters of one action, as a plan shows them; none for bookkeeping. */
export function renderAction(action: StepAction): Omit<PlannedWrite, "step" | "reason">[] {
  switch (action.kind) {
    case "adopt":
    case "record-id":
      return [];
    case "new-connector":
      return [{ cmdlet: "New-OutboundConnector", parameters: connectorParameters(action.spec) }];
    case "set-connector":
      return [
        {
          cmdlet: "Set-OutboundConnector",
          parameters: { Identity: action.name, ...connectorParameters(action.changes) },
        },
      ];
    case "validate-connector":
      return [
        {
          cmdlet: "Validate-OutboundConnector",
          parameters: { Identity: action.name, Recipients: [action.recipient] },
        },
        {
          cmdlet: "Set-OutboundConnector",
          parameters: {
            Identity: action.name,
            IsValidated: true,
            LastValidationTimestamp: "<time of validation>",
            ValidationRecipients: [action.recipient],
          },
        },
      ];
    case "set-ndr-address":
      return [{ cmdlet: "Set-TransportConfig", parameters: { JournalingReportNdrTo: action.address } }];
    case "new-group":
      return [
        {
          cmdlet: "New-DistributionGroup",
          parameters: {
            Name: action.spec.name,
            PrimarySmtpAddress: action.spec.primarySmtpAddress,
            Type: "Distribution",
            Members: summariseMembers(action.spec.members),
            ...(action.spec.owners?.length ? { ManagedBy: [...action.spec.owners] } : {}),
          },
        },
      ];
    case "rename-group":
      return [
        {
          cmdlet: "Set-DistributionGroup",
          // Found by its identity: its name is what differs.
          parameters: { Identity: action.identity, Name: action.name, DisplayName: action.name },
        },
      ];
    case "add-members":
      return [
        {
          cmdlet: "Add-DistributionGroupMember",
          // What is sent: the group as it was found (by its Guid when a rename made the name miss).
          parameters: {
            Identity: action.identity,
            Member: summariseMembers(action.members.map((m) => m.id)),
          },
        },
      ];
    case "new-journal-rule":
      return [{ cmdlet: "New-JournalRule", parameters: journalRuleParameters(action.spec) }];
    case "set-journal-rule":
      return [
        {
          cmdlet: "Set-JournalRule",
          // A renamed rule is found by what it is called now.
          parameters: {
            Identity: action.changes.name !== undefined ? action.identity : action.name,
            ...journalRuleParameters(action.changes, true),
          },
        },
      ];
    case "enable-journal-rule":
      return [{ cmdlet: "Enable-JournalRule", parameters: { Identity: action.name } }];
    case "remove-journal-rule":
      return [{ cmdlet: "Remove-JournalRule", parameters: { Identity: action.name } }];
    case "restore-journal-rule":
      return [
        ...(Object.keys(action.changes).length > 0
          ? [
              {
                cmdlet: "Set-JournalRule",
                parameters: { Identity: action.name, ...journalRuleParameters(action.changes, true) },
              },
            ]
          : []),
        ...(action.disable ? [{ cmdlet: "Disable-JournalRule", parameters: { Identity: action.name } }] : []),
      ];
    case "remove-group":
      return [{ cmdlet: "Remove-DistributionGroup", parameters: { Identity: action.name } }];
    case "remove-connector":
      return [{ cmdlet: "Remove-OutboundConnector", parameters: { Identity: action.name } }];
    case "restore-connector":
      return [
        {
          cmdlet: "Set-OutboundConnector",
          parameters: { Identity: action.name, ...connectorParameters(action.changes) },
        },
      ];
    case "forget-owned":
    case "forget-adopted":
      return [];
  }
}

function connectorParameters(
  c: Partial<OutboundConnectorSpec> & { isValidated?: boolean },
): Record<string, Json> {
  const p: Record<string, Json> = {};
  if (c.name !== undefined) p.Name = c.name;
  if (c.comment !== undefined) p.Comment = c.comment;
  if (c.connectorType !== undefined) p.ConnectorType = c.connectorType;
  if (c.recipientDomains !== undefined) p.RecipientDomains = [...c.recipientDomains];
  if (c.smartHosts !== undefined) p.SmartHosts = [...c.smartHosts];
  if (c.useMxRecord !== undefined) p.UseMXRecord = c.useMxRecord;
  if (c.tlsSettings !== undefined) p.TlsSettings = c.tlsSettings;
  if (c.enabled !== undefined) p.Enabled = c.enabled;
  if (c.isTransportRuleScoped !== undefined) p.IsTransportRuleScoped = c.isTransportRuleScoped;
  if (c.testMode !== undefined) p.TestMode = c.testMode;
  if (c.isValidated !== undefined) p.IsValidated = c.isValidated;
  return p;
}

/**
 * A rule's parameters as the adapter sends them: New-JournalRule leaves out a Recipient of null
 * (every recipient), Set-JournalRule sends `-Recipient $null` to journal every recipient again.
 */
function journalRuleParameters(r: Partial<JournalRuleSpec>, set = false): Record<string, Json> {
  const p: Record<string, Json> = {};
  if (r.name !== undefined) p.Name = r.name;
  if (r.journalEmailAddress !== undefined) p.JournalEmailAddress = r.journalEmailAddress;
  if (r.scope !== undefined) p.Scope = r.scope;
  if (r.recipient !== undefined && (set || r.recipient !== null)) p.Recipient = r.recipient;
  if (r.enabled !== undefined) p.Enabled = r.enabled;
  return p;
}

/**
 * Adds an action for `object` to the diff (after the object's earlier actions), with the writes
 * it makes and why.
 */
export function addAction(diff: StepDiff, object: string, action: StepAction, reason: string): void {
  let entry = diff.objects.find((o) => o.object === object);
  if (!entry) {
    entry = { object, actions: [] };
    diff.objects.push(entry);
  }
  entry.actions.push(action);
  for (const w of renderAction(action)) diff.writes.push({ step: diff.step, ...w, reason });
}

/**
 * Carries out a diff: objects side by side, each object's actions in order; `run` does one
 * action and says what changed (for logs and tests). Waits for every object before failing.
 */
export async function applyObjects(
  ctx: Pick<StepContext, "adopt" | "recordId">,
  diff: StepDiff,
  run: (action: Exclude<StepAction, { kind: "adopt" | "record-id" }>) => Promise<string | undefined>,
): Promise<string[]> {
  const changes: string[] = [];
  await settled(
    diff.objects.map(async ({ actions }) => {
      for (const action of actions) {
        // Bookkeeping common to every step: an adopted object's previous values, before its first change.
        // And an object's immutable identity, before any change to it.
        if (action.kind === "adopt") {
          await ctx.adopt(action.adoptKind, action.name, action.previous);
          continue;
        }
        if (action.kind === "record-id") {
          await ctx.recordId(action.idKind, action.name, action.id);
          continue;
        }
        const change = await run(action);
        if (change) changes.push(change);
      }
    }),
  );
  return changes;
}

/** Whether two lists of planned writes are the same writes (same order, same parameters). */
export function sameWrites(a: readonly PlannedWrite[], b: readonly PlannedWrite[]): boolean {
  return JSON.stringify(a.map(stable)) === JSON.stringify(b.map(stable));
}

function stable(w: PlannedWrite): Json {
  return [w.step, w.cmdlet, sortKeys(w.parameters)];
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, Json>)[k] as Json)]),
    );
  }
  return v;
}
