import { ConnectorValidationPendingError } from "../errors.ts";
import type { OutboundConnectorSpec } from "../m365.ts";
import { sameSet, sameText } from "../normalize.ts";
import { journalAddress, nameFor, regionsOf } from "../provider.ts";
import type { StepContext, StepOutcome } from "./context.ts";

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

/** Step `connector`: create or correct the outbound connector(s). */
export async function applyConnectors(ctx: StepContext): Promise<StepOutcome> {
  const changes: string[] = [];
  await Promise.all(
    desiredConnectors(ctx).map(async (desired) => {
      const current = await ctx.m365.exchange.getOutboundConnector(desired.name);
      if (!current) {
        await ctx.own("connectors", desired.name);
        await ctx.m365.exchange.newOutboundConnector(desired);
        changes.push(`created connector ${desired.name}`);
        return;
      }
      const drift = connectorDrift(current, desired);
      if (Object.keys(drift).length > 0) {
        await ctx.m365.exchange.setOutboundConnector(current.identity, drift);
        changes.push(`updated connector ${desired.name}: ${Object.keys(drift).join(", ")}`);
      }
    }),
  );
  return { changes };
}

/** Step `validate-connector`: every validation task of every connector must succeed. */
export async function validateConnectors(ctx: StepContext): Promise<StepOutcome> {
  const { request, profile } = ctx;
  await Promise.all(
    regionsOf(request.region).map(async (region) => {
      const name = nameFor(profile.connectorName, request.region, region, "connector");
      const recipient = journalAddress(profile, region, request.customerName);
      const tasks = await ctx.m365.exchange.validateOutboundConnector(name, [recipient]);
      const failed = tasks.filter((t) => !/^succe/i.test(t.status));
      if (tasks.length === 0 || failed.length > 0) {
        const detail = failed
          .map((t) => `${t.task}: ${t.status}${t.details ? ` (${t.details})` : ""}`)
          .join("; ");
        throw new ConnectorValidationPendingError(
          `Validation of connector "${name}" with ${recipient} did not succeed${detail ? `: ${detail}` : " (no result)"}.`,
        );
      }
    }),
  );
  return { changes: [] };
}
