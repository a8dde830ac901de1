import { ConnectorValidationFailedError, ConnectorValidationPendingError, NotFoundError } from "../errors.ts";
import type { ConnectorValidationTask, OutboundConnector, OutboundConnectorSpec } from "../m365.ts";
import { sameAddress, sameSet, sameText } from "../normalize.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import { type StepContext, type StepOutcome, settled } from "./context.ts";

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
    isValidated: c.isValidated,
  };
}

/** Step `connector`: create or correct the outbound connector(s). */
export async function applyConnectors(ctx: StepContext): Promise<StepOutcome> {
  const changes: string[] = [];
  await settled(
    desiredConnectors(ctx).map(async (desired) => {
      const current = await ctx.m365.exchange.getOutboundConnector(desired.name);
      if (!current) {
        await ctx.own("connectors", desired.name);
        await ctx.m365.exchange.newOutboundConnector(desired, {
          ownedBefore: ctx.owned.connectors.includes(desired.name),
        });
        changes.push(`created connector ${desired.name}`);
        return;
      }
      const drift = connectorDrift(current, desired);
      if (Object.keys(drift).length === 0) return;
      // A connector someone else made: remember what it was before our first change.
      if (!ctx.owned.connectors.includes(desired.name)) {
        await ctx.adopt("connectors", desired.name, connectorValues(current));
      }
      // A changed connector must pass validation again before journaling relies on it.
      await ctx.m365.exchange.setOutboundConnector(current.identity, {
        ...drift,
        ...(current.isValidated ? { isValidated: false } : {}),
      });
      changes.push(`updated connector ${desired.name}: ${Object.keys(drift).join(", ")}`);
    }),
  );
  return { changes };
}

/**
 * Step `validate-connector`: Validate-OutboundConnector for each connector with its region's
 * journaling address; it passes only when every task succeeded. Then the connector is marked
 * validated (the cmdlet does not do it), which is also how a re-run knows not to send another
 * test message.
 *
 * Throws ConnectorValidationPendingError while Exchange cannot find the connector yet
 * (replication after creation), and ConnectorValidationFailedError with each failed task's
 * message when the verdict is a failure (or unreadable).
 */
export async function validateConnectors(ctx: StepContext): Promise<StepOutcome> {
  const { request, profile } = ctx;
  const { exchange } = ctx.m365;
  const changes: string[] = [];
  await settled(
    regionsOf(request.region).map(async (region) => {
      const name = nameFor(profile.connectorName, request.region, region, "connector");
      const recipient = journalAddress(profile, region, request.customerName);
      const current = await exchange.getOutboundConnector(name);
      if (!current) throw notReplicated(name);
      if (current.isValidated && current.validationRecipients.some((r) => sameAddress(r, recipient))) {
        return;
      }
      let tasks: ConnectorValidationTask[];
      try {
        tasks = await exchange.validateOutboundConnector(current.identity, [recipient]);
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
      // A connector someone else made (same name, already right): its mark is theirs until now.
      if (!ctx.owned.connectors.includes(name)) await ctx.adopt("connectors", name, connectorValues(current));
      await exchange.markConnectorValidated(current.identity, [recipient], ctx.now());
      changes.push(`validated connector ${name}`);
    }),
  );
  return { changes };
}

function notReplicated(name: string): ConnectorValidationPendingError {
  return new ConnectorValidationPendingError(
    `Exchange cannot find connector "${name}" for validation yet (directory replication after creation); validation is retried.`,
  );
}
