import { ConnectorValidationFailedError, ConnectorValidationPendingError, NotFoundError } from "../errors.ts";
import type { ConnectorValidationTask, OutboundConnector, OutboundConnectorSpec } from "../m365.ts";
import { sameAddress, sameSet, sameText } from "../normalize.ts";
import type { AdoptedObjects } from "../owned.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import { createOwned, type DiffContext, type StepContext, type StepOutcome, settled } from "./context.ts";
import { addAction, applyObjects, emptyDiff, type Json, type StepAction, type StepDiff } from "./diff.ts";

/** The outbound connectors to the provider's smart hosts: one per region used. */
export function desiredConnectors(ctx: Pick<StepContext, "request" | "profile">): OutboundConnectorSpec[] {
  const { request, profile } = ctx;
  return regionsOf(request.region).map((region) => {
    const name = nameFor(profile.connectorName, request.region, region, "connector");
    return {
      name,
      comment: name,
      connectorType: "Partner",
      recipientDomains: [profile.regions[region].recipientDomain],
      smartHosts: [...profile.regions[region].smartHosts],
      useMxRecord: false,
      tlsSettings: "CertificateValidation",
      enabled: true,
      // The guide's "only when email messages are sent to these domains", not by transport rule.
      isTransportRuleScoped: false,
    };
  });
}

/** Fields of `desired` that `current` does not match. */
export function connectorDrift(
  current: OutboundConnectorSpec,
  desired: OutboundConnectorSpec,
): Partial<OutboundConnectorSpec> {
  const drift: Partial<OutboundConnectorSpec> = {};
  if (!sameText(current.comment, desired.comment)) drift.comment = desired.comment;
  if (current.connectorType !== desired.connectorType) drift.connectorType = desired.connectorType;
  if (!sameSet(current.recipientDomains, desired.recipientDomains))
    drift.recipientDomains = desired.recipientDomains;
  if (!sameSet(current.smartHosts, desired.smartHosts)) drift.smartHosts = desired.smartHosts;
  if (current.useMxRecord !== desired.useMxRecord) drift.useMxRecord = desired.useMxRecord;
  if (current.tlsSettings !== desired.tlsSettings) drift.tlsSettings = desired.tlsSettings;
  if (current.enabled !== desired.enabled) drift.enabled = desired.enabled;
  if ((current.isTransportRuleScoped ?? false) !== (desired.isTransportRuleScoped ?? false))
    drift.isTransportRuleScoped = desired.isTransportRuleScoped ?? false;
  // A connector in test mode is not the guide's active connector: taken out of it.
  if ((current.testMode ?? false) !== (desired.testMode ?? false)) drift.testMode = desired.testMode ?? false;
  return drift;
}

/** The values of a connector that offboarding restores on one it adopted. */
export function connectorValues(c: OutboundConnector): OutboundConnectorSpec & { isValidated: boolean } {
  return {
    name: c.name,
    comment: c.comment,
    connectorType: c.connectorType,
    recipientDomains: [...c.recipientDomains],
    smartHosts: [...c.smartHosts],
    useMxRecord: c.useMxRecord,
    tlsSettings: c.tlsSettings,
    enabled: c.enabled,
    isTransportRuleScoped: c.isTransportRuleScoped,
    testMode: c.testMode,
    isValidated: c.isValidated,
  };
}

const connectorObject = (name: string) => `connector "${name}"`;

/** Step `connector`, reads only: connectors missing or with other values than desired. */
export async function diffConnectors(ctx: DiffContext): Promise<StepDiff> {
  const diff = emptyDiff("connector");
  const currents = await settled(
    desiredConnectors(ctx).map((d) => ctx.m365.exchange.getOutboundConnector(d.name)),
  );
  desiredConnectors(ctx).forEach((desired, i) => {
    const current = currents[i];
    const object = connectorObject(desired.name);
    if (!current) {
      diff.differences.push({ step: "connector", object, field: "exists", expected: true, actual: false });
      addAction(diff, object, { kind: "new-connector", spec: desired }, "The connector does not exist.");
      return;
    }
    const drift = connectorDrift(current, desired);
    const fields = Object.keys(drift) as (keyof OutboundConnectorSpec)[];
    if (fields.length === 0) return;
    for (const field of fields) {
      diff.differences.push({
        step: "connector",
        object,
        field,
        expected: drift[field] as Json,
        actual: (current[field] ?? null) as Json,
      });
    }
    // A connector someone else made: remember what it was before our first change.
    if (!ctx.owned.connectors.includes(desired.name)) {
      addAction(
        diff,
        object,
        { kind: "adopt", adoptKind: "connectors", name: desired.name, previous: connectorValues(current) },
        "",
      );
    }
    // A changed connector must pass validation again before journaling relies on it.
    addAction(
      diff,
      object,
      {
        kind: "set-connector",
        name: desired.name,
        identity: current.identity,
        changes: { ...drift, ...(current.isValidated ? { isValidated: false } : {}) },
      },
      `The connector's ${fields.join(", ")} differ from what journaling needs.`,
    );
  });
  return diff;
}

/** Step `connector`: creates or corrects what `diffConnectors` found. */
export async function applyConnectorDiff(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const { exchange } = ctx.m365;
  const changes = await applyObjects(ctx, diff, async (action) => {
    switch (action.kind) {
      case "new-connector":
        await createOwned(ctx, "connectors", action.spec.name, (options) =>
          exchange.newOutboundConnector(action.spec, options),
        );
        return `created connector ${action.spec.name}`;
      case "set-connector":
        await exchange.setOutboundConnector(action.identity, action.changes);
        return `updated connector ${action.name}: ${Object.keys(action.changes)
          .filter((k) => k !== "isValidated")
          .join(", ")}`;
      default:
        throw new Error(`connector cannot apply ${action.kind}`);
    }
  });
  return { changes };
}

/**
 * Step `validate-connector`, reads only: a connector counts as validated when it is marked
 * validated for its region's journaling address (the mark this service sets after a pass).
 */
export async function diffValidation(ctx: DiffContext): Promise<StepDiff> {
  const names = connectorNames(ctx);
  const currents = await settled(names.map((name) => ctx.m365.exchange.getOutboundConnector(name)));
  return validationDiff(
    ctx,
    currents.map((current, i) =>
      current
        ? {
            identity: current.identity,
            validatedFor: current.isValidated ? current.validationRecipients : false,
            // A connector someone else made (same name, already right): its mark is theirs until now.
            ...(!ctx.owned.connectors.includes(names[i] as string)
              ? { previous: connectorValues(current) }
              : {}),
          }
        : undefined,
    ),
  );
}

/**
 * The validation diff as it will be once the connector step has applied `connectorDiff` (read in
 * the same wave as `validation`): a connector that step creates or changes must pass validation
 * (a change clears the mark), under its name (a new one has no other identity yet); the others
 * stay as read. Onboarding's read-once wave and the plan use this, so that neither reads the
 * connectors again between the two steps.
 */
export function validationAfterConnector(
  ctx: Pick<DiffContext, "request" | "profile">,
  connectorDiff: StepDiff,
  validation: StepDiff,
): StepDiff {
  const names = connectorNames(ctx);
  return validationDiff(
    ctx,
    names.map((name) => {
      const object = connectorObject(name);
      const change = connectorDiff.objects
        .find((o) => o.object === object)
        ?.actions.find((a) => a.kind === "new-connector" || a.kind === "set-connector");
      if (change)
        return { identity: change.kind === "set-connector" ? change.identity : name, validatedFor: false };
      const pending = validation.objects
        .find((o) => o.object === object)
        ?.actions.find((a) => a.kind === "validate-connector");
      if (!pending) return { identity: name, validatedFor: "as read" };
      return {
        identity: pending.identity,
        validatedFor: false,
        ...(pending.previous ? { previous: pending.previous } : {}),
      };
    }),
  );
}

function connectorNames(ctx: Pick<DiffContext, "request" | "profile">): string[] {
  const { request, profile } = ctx;
  return regionsOf(request.region).map((region) =>
    nameFor(profile.connectorName, request.region, region, "connector"),
  );
}

/** Per connector (in region order) what validation depends on; undefined: Exchange cannot find it. */
type ValidationState =
  | {
      identity: string | null;
      /** The recipients it is marked validated for, false when not marked; "as read": validated (unchanged). */
      validatedFor: readonly string[] | false | "as read";
      previous?: AdoptedObjects["connectors"][string];
    }
  | undefined;

function validationDiff(ctx: Pick<DiffContext, "request" | "profile">, states: ValidationState[]): StepDiff {
  const { request, profile } = ctx;
  const diff = emptyDiff("validate-connector");
  const names = connectorNames(ctx);
  regionsOf(request.region).forEach((region, i) => {
    const name = names[i] as string;
    const state = states[i];
    const recipient = journalAddress(profile, region, request.customerName);
    if (state?.validatedFor === "as read") return;
    const marked = state?.validatedFor;
    if (Array.isArray(marked) && marked.some((r) => sameAddress(r, recipient))) return;
    const object = connectorObject(name);
    diff.differences.push({
      step: "validate-connector",
      object,
      field: "validated",
      expected: recipient,
      actual: Array.isArray(marked) ? [...marked] : false,
    });
    addAction(
      diff,
      object,
      {
        kind: "validate-connector",
        name,
        identity: state?.identity ?? null,
        recipient,
        ...(state?.previous ? { previous: state.previous } : {}),
      },
      state
        ? `The connector is not marked validated for ${recipient}.`
        : `The connector is validated once it exists (after the connector step).`,
    );
  });
  return diff;
}

/**
 * Step `validate-connector`: Validate-OutboundConnector for each connector with its region's
 * journaling address; it passes only when every task succeeded. Once every connector passed, the
 * steps waiting on this one may start (`ctx.ready`: the journal rules), while each connector is
 * marked validated (the cmdlet does not do it), which is also how a re-run knows not to send
 * another test message.
 *
 * Throws ConnectorValidationPendingError while Exchange cannot find the connector yet
 * (replication after creation), and ConnectorValidationFailedError with each failed task's
 * message when the verdict is a failure (or unreadable).
 */
export async function applyValidationDiff(ctx: StepContext, diff: StepDiff): Promise<StepOutcome> {
  const actions = diff.objects.flatMap(({ actions }) =>
    actions.flatMap((a) => (a.kind === "validate-connector" ? [a] : [])),
  );
  const other = diff.objects.flatMap(({ actions }) => actions).find((a) => a.kind !== "validate-connector");
  if (other) throw new Error(`validate-connector cannot apply ${other.kind}`);
  const identities = await settled(actions.map((action) => validateOne(ctx, action)));
  ctx.ready?.();
  await settled(
    actions.map(async (action, i) => {
      if (action.previous) await ctx.adopt("connectors", action.name, action.previous);
      await ctx.m365.exchange.markConnectorValidated(identities[i] as string, [action.recipient], ctx.now());
    }),
  );
  return { changes: actions.map((a) => `validated connector ${a.name}`) };
}

/** Validates one connector; returns the identity it was found under. */
async function validateOne(
  ctx: StepContext,
  action: Extract<StepAction, { kind: "validate-connector" }>,
): Promise<string> {
  const { exchange } = ctx.m365;
  const { name, identity, recipient } = action;
  if (!identity) throw notReplicated(name);
  let tasks: ConnectorValidationTask[];
  try {
    tasks = await exchange.validateOutboundConnector(identity, [recipient]);
  } catch (err) {
    if (err instanceof NotFoundError) throw notReplicated(name);
    throw err;
  }
  const failed = tasks.filter((t) => t.outcome !== "passed");
  if (tasks.length === 0 || failed.length > 0) {
    const detail = failed
      .map(
        (t) =>
          `${t.task}: ${t.outcome === "unknown" ? "no result" : "failed"}${t.details ? ` (${t.details})` : ""}`,
      )
      .join("; ");
    throw new ConnectorValidationFailedError(
      `Validation of connector "${name}" with ${recipient} did not pass${detail ? `: ${detail}` : " (Exchange returned no tasks)"}.`,
    );
  }
  return identity;
}

function notReplicated(name: string): ConnectorValidationPendingError {
  return new ConnectorValidationPendingError(
    `Exchange cannot find connector "${name}" for validation yet (directory replication after creation); validation is retried.`,
  );
}
