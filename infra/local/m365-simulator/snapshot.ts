/** A tenant's state as the control API shows it (`tenant()`): plain data, addresses for members. */
import { isDehydrated } from "./exchange/organization.ts";
import type { TenantState } from "./state.ts";
import type { TenantSnapshot } from "./types.ts";

export function snapshot(state: TenantState): TenantSnapshot {
  const address = (guid: string) => state.recipients.find((r) => r.guid === guid)?.primarySmtpAddress ?? guid;
  const dehydrated = isDehydrated(state, Date.now());
  return structuredClone({
    tenantId: state.tenantId,
    domain: state.domain,
    consented: state.consented,
    dehydrated,
    hydrating: dehydrated && typeof state.hydratingUntil === "number",
    journalingReportNdrTo: state.journalingReportNdrTo,
    acceptedDomains: state.acceptedDomains.map((d) => ({
      domainName: d.domainName,
      domainType: d.domainType,
      default: d.default,
    })),
    connectors: state.connectors.map((c) => ({
      name: c.name,
      comment: c.comment,
      connectorType: c.connectorType,
      recipientDomains: c.recipientDomains,
      smartHosts: c.smartHosts,
      useMxRecord: c.useMxRecord,
      tlsSettings: c.tlsSettings,
      tlsDomain: c.tlsDomain,
      enabled: c.enabled,
      isTransportRuleScoped: c.isTransportRuleScoped,
      testMode: c.testMode,
      isValidated: c.isValidated,
      lastValidationTimestamp: c.lastValidationTimestamp,
      validationRecipients: c.validationRecipients,
      validations: c.validations,
    })),
    journalRules: state.journalRules.map((r) => ({
      name: r.name,
      journalEmailAddress: r.journalEmailAddress,
      scope: r.scope,
      recipient: r.recipient,
      enabled: r.enabled,
    })),
    groups: state.recipients
      .filter((r) => r.members !== undefined)
      .map((g) => ({
        name: g.name,
        displayName: g.displayName,
        guid: g.guid,
        primarySmtpAddress: g.primarySmtpAddress,
        recipientTypeDetails: g.recipientTypeDetails,
        members: (g.members ?? []).map(address),
        seeded: g.seeded === true,
      })),
    recipients: state.recipients.map((r) => ({
      name: r.name,
      alias: r.alias,
      primarySmtpAddress: r.primarySmtpAddress,
      recipientTypeDetails: r.recipientTypeDetails,
      emailAddresses: r.emailAddresses,
      userPrincipalName: r.userPrincipalName ?? null,
    })),
    appExchangeAdministrator: state.appExchangeAdministrator,
    servicePrincipals: state.servicePrincipals,
    roleGroups: state.roleGroups.map((g) => ({ name: g.name, roles: g.roles, members: g.members })),
  });
}
