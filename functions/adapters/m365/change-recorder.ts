/**
 * The one place where writes in a customer's tenant are recorded for the audit trail: a wrapper
 * around the Exchange operations a task gets. Every write operation (New-*, Set-*, Remove-*,
 * Add-/Remove-DistributionGroupMember, Enable-/Disable-JournalRule, Validate-OutboundConnector,
 * which sends a test message, and Enable-OrganizationCustomization) is recorded once it is
 * answered, with its outcome; reads pass through. Parameters are the cmdlet's, without secrets,
 * member lists summarised.
 */
import { randomUUID } from "node:crypto";
import type { ChangeRecord, RequestedBy } from "../../domain/change-log.ts";
import { toErrorInfo } from "../../domain/errors.ts";
import type { ExchangeOperations, M365Tenant } from "../../domain/m365.ts";
import { type Json, summariseMembers } from "../../domain/steps/diff.ts";
import type { AnyStepName } from "../../domain/tenant.ts";

export interface ChangeRecorderContext {
  tenantId: string;
  run: number;
  step: AnyStepName;
  requestedBy: RequestedBy;
  now: () => string;
  record: (change: ChangeRecord) => Promise<void>;
  /** Told when recording failed (the write itself stands; the trail misses it). */
  onRecordError?: (err: unknown) => void;
}

type Writes = {
  [K in keyof ExchangeOperations]?: (...args: Parameters<ExchangeOperations[K]>) => {
    cmdlet: string;
    parameters: Record<string, Json>;
  };
};

const connector = (c: Record<string, unknown>): Record<string, Json> => {
  const names: Record<string, string> = {
    name: "Name",
    comment: "Comment",
    connectorType: "ConnectorType",
    recipientDomains: "RecipientDomains",
    smartHosts: "SmartHosts",
    useMxRecord: "UseMXRecord",
    tlsSettings: "TlsSettings",
    enabled: "Enabled",
    isTransportRuleScoped: "IsTransportRuleScoped",
    testMode: "TestMode",
    isValidated: "IsValidated",
  };
  return Object.fromEntries(
    Object.entries(c)
      .filter(([k, v]) => names[k] && v !== undefined)
      .map(([k, v]) => [names[k] as string, v as Json]),
  );
};

const rule = (r: Record<string, unknown>): Record<string, Json> => {
  const names: Record<string, string> = {
    name: "Name",
    journalEmailAddress: "JournalEmailAddress",
    scope: "Scope",
    recipient: "Recipient",
    enabled: "Enabled",
  };
  return Object.fromEntries(
    Object.entries(r)
      .filter(([k, v]) => names[k] && v !== undefined)
      .map(([k, v]) => [names[k] as string, v as Json]),
  );
};

/** Each write operation as its cmdlet and the parameters the audit trail shows. */
const WRITES: Writes = {
  newOutboundConnector: (spec) => ({ cmdlet: "New-OutboundConnector", parameters: connector({ ...spec }) }),
  setOutboundConnector: (identity, changes) => ({
    cmdlet: "Set-OutboundConnector",
    parameters: { Identity: identity, ...connector({ ...changes }) },
  }),
  removeOutboundConnector: (identity) => ({
    cmdlet: "Remove-OutboundConnector",
    parameters: { Identity: identity },
  }),
  validateOutboundConnector: (identity, recipients) => ({
    cmdlet: "Validate-OutboundConnector",
    parameters: { Identity: identity, Recipients: [...recipients] },
  }),
  markConnectorValidated: (identity, recipients, at) => ({
    cmdlet: "Set-OutboundConnector",
    parameters: {
      Identity: identity,
      IsValidated: true,
      LastValidationTimestamp: at,
      ValidationRecipients: [...recipients],
    },
  }),
  setTransportConfig: (changes) => ({
    cmdlet: "Set-TransportConfig",
    parameters: { JournalingReportNdrTo: changes.journalingReportNdrTo },
  }),
  newJournalRule: (spec) => ({ cmdlet: "New-JournalRule", parameters: rule({ ...spec }) }),
  setJournalRule: (identity, changes) => ({
    cmdlet: "Set-JournalRule",
    parameters: { Identity: identity, ...rule({ ...changes }) },
  }),
  enableJournalRule: (identity) => ({ cmdlet: "Enable-JournalRule", parameters: { Identity: identity } }),
  disableJournalRule: (identity) => ({ cmdlet: "Disable-JournalRule", parameters: { Identity: identity } }),
  removeJournalRule: (identity) => ({ cmdlet: "Remove-JournalRule", parameters: { Identity: identity } }),
  newDistributionGroup: (spec) => ({
    cmdlet: "New-DistributionGroup",
    parameters: {
      Name: spec.name,
      PrimarySmtpAddress: spec.primarySmtpAddress,
      Type: "Distribution",
      Members: summariseMembers(spec.members),
      ...(spec.owners?.length ? { ManagedBy: [...spec.owners] } : {}),
    },
  }),
  setDistributionGroup: (identity, changes) => ({
    cmdlet: "Set-DistributionGroup",
    parameters: { Identity: identity, Name: changes.name, DisplayName: changes.name },
  }),
  removeDistributionGroup: (identity) => ({
    cmdlet: "Remove-DistributionGroup",
    parameters: { Identity: identity },
  }),
  addDistributionGroupMember: (identity, member) => ({
    cmdlet: "Add-DistributionGroupMember",
    parameters: { Identity: identity, Member: member },
  }),
  addDistributionGroupMembers: (identity, members) => ({
    cmdlet: "Add-DistributionGroupMember",
    parameters: { Identity: identity, Member: summariseMembers([...members]) },
  }),
  removeDistributionGroupMember: (identity, member) => ({
    cmdlet: "Remove-DistributionGroupMember",
    parameters: { Identity: identity, Member: member },
  }),
  enableOrganizationCustomization: () => ({ cmdlet: "Enable-OrganizationCustomization", parameters: {} }),
};

/** The names of the write operations (the rest are reads). */
export const WRITE_OPERATIONS = Object.keys(WRITES) as (keyof ExchangeOperations)[];

/** `exchange` with every write recorded through `ctx.record`. */
export function recordingExchange(
  exchange: ExchangeOperations,
  ctx: ChangeRecorderContext,
): ExchangeOperations {
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.keys(WRITES) as (keyof ExchangeOperations)[]) {
    const describe = WRITES[name] as (...args: unknown[]) => {
      cmdlet: string;
      parameters: Record<string, Json>;
    };
    const original = (exchange[name] as (...args: unknown[]) => Promise<unknown>).bind(exchange);
    wrapped[name] = async (...args: unknown[]) => {
      const { cmdlet, parameters } = describe(...args);
      const entry = (outcome: "ok" | "error", errorCode?: string): ChangeRecord => ({
        changeId: randomUUID(),
        tenantId: ctx.tenantId,
        at: ctx.now(),
        run: ctx.run,
        step: ctx.step,
        cmdlet,
        parameters,
        outcome,
        ...(errorCode ? { errorCode } : {}),
        requestedBy: ctx.requestedBy,
      });
      const save = (change: ChangeRecord) =>
        ctx.record(change).catch((err: unknown) => ctx.onRecordError?.(err));
      try {
        const result = await original(...args);
        await save(entry("ok"));
        return result;
      } catch (err) {
        await save(entry("error", toErrorInfo(err).code));
        throw err;
      }
    };
  }
  return new Proxy(exchange, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && prop in wrapped) return wrapped[prop];
      const value = Reflect.get(target, prop, receiver);
      // Methods of a class with private fields must run on the object itself, not the proxy.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The tenant with its Exchange writes recorded. */
export function recordingTenant(tenant: M365Tenant, ctx: ChangeRecorderContext): M365Tenant {
  return {
    tenantId: tenant.tenantId,
    graph: tenant.graph,
    exchange: recordingExchange(tenant.exchange, ctx),
  };
}
