/**
 * The port's Exchange operations for one tenant, as cmdlets through {@link ExchangeClient}.
 *
 * Reads map "couldn't be found" to undefined. Writes that a retry may have seen succeed
 * already (the connection dropped after Exchange applied them) are reconciled: "already
 * exists" on a retried New-* returns the existing object, "couldn't be found" on a retried
 * Remove-* is success.
 */
import { NotFoundError, TransientError } from "../../domain/errors.ts";
import type {
  ConnectorValidationTask,
  CreateOptions,
  DistributionGroup,
  DistributionGroupSpec,
  ExchangeOperations,
  JournalRule,
  JournalRuleSpec,
  OutboundConnector,
  OutboundConnectorSpec,
  Recipient,
  TransportConfig,
} from "../../domain/m365.ts";
import { ALREADY_EXISTS, m365ErrorDetails } from "./error-model.ts";
import { invokeBatch } from "./exchange-batch.ts";
import type { CmdletParameters, CmdletRow, ExchangeClient } from "./exchange-client.ts";
import {
  carriesIdentity,
  prop,
  text,
  toDistributionGroup,
  toJournalRule,
  toOutboundConnector,
  toRecipient,
  toTransportConfig,
  toValidationTask,
} from "./normalize.ts";
import type { CallOptions } from "./retry.ts";

const ALREADY_MEMBER = /MemberAlreadyExistsException|already a member/i;
/** Exchange's MemberNotFoundException: "... isn't a member of the group ...". */
const NOT_A_MEMBER = /MemberNotFoundException|isn't a member of the group|is not a member of the group/i;
const ALREADY_CUSTOMIZED = /AlreadyEnabled|not required|already enabled for customization/i;

/**
 * Per-cmdlet time limits. Exchange's server gives a cmdlet 15 minutes (the module waits 16);
 * reads and small writes answer in seconds, these need minutes. A slow cmdlet is never re-sent
 * in-task after a timeout: the workflow's Retry policy takes over, inside the task's 15 minutes.
 */
const SLOW_CMDLETS: Readonly<Record<string, CallOptions>> = {
  // Connects to each smart host and sends a test message: each call sends another one.
  // 540 s leaves the task's 900 s room for the read before it and the mark after it.
  "Validate-OutboundConnector": { timeoutMs: 540_000, resend: "if-not-processed" },
  "Enable-OrganizationCustomization": { timeoutMs: 600_000, resend: "if-not-processed" },
};

/**
 * Reads of whole lists that can be long (a group of 10,000 members, every recipient): the module
 * gives Get-DistributionGroupMember 3,600 s (`CmdletHttpTimeoutCollection`); a task has 900 s, so
 * each page may take up to 600 s here. Reads are safe to send again.
 */
const LONG_READ: CallOptions = { timeoutMs: 600_000 };

/** New-DistributionGroup resolves every member: about 60 s plus 50 ms a member, at most 10 minutes. */
function groupCreationOptions(members: number): CallOptions {
  const timeoutMs = Math.min(600_000, 60_000 + members * 50);
  return timeoutMs > 120_000 ? { timeoutMs, resend: "if-not-processed" } : { timeoutMs };
}

function exchangeText(err: unknown): string {
  const d = m365ErrorDetails(err);
  return `${d?.exceptionType ?? ""} ${err instanceof Error ? err.message : ""}`;
}

/** Whether an earlier attempt of this call may have been applied (its answer lost). */
function retried(err: unknown): boolean {
  return m365ErrorDetails(err)?.sentBefore === true;
}

function connectorParameters(spec: Partial<OutboundConnectorSpec>): CmdletParameters {
  const p: CmdletParameters = {};
  if (spec.name !== undefined) p.Name = spec.name;
  if (spec.comment !== undefined) p.Comment = spec.comment;
  if (spec.connectorType !== undefined) p.ConnectorType = spec.connectorType;
  if (spec.recipientDomains !== undefined) p.RecipientDomains = [...spec.recipientDomains];
  if (spec.smartHosts !== undefined) p.SmartHosts = [...spec.smartHosts];
  if (spec.useMxRecord !== undefined) p.UseMXRecord = spec.useMxRecord;
  if (spec.tlsSettings !== undefined) p.TlsSettings = spec.tlsSettings;
  if (spec.enabled !== undefined) p.Enabled = spec.enabled;
  if (spec.isTransportRuleScoped !== undefined) p.IsTransportRuleScoped = spec.isTransportRuleScoped;
  if (spec.testMode !== undefined) p.TestMode = spec.testMode;
  return p;
}

export class ExchangeTenantOperations implements ExchangeOperations {
  readonly #client: ExchangeClient;
  readonly #tenantId: string;

  constructor(client: ExchangeClient, tenantId: string) {
    this.#client = client;
    this.#tenantId = tenantId;
  }

  #run(cmdlet: string, parameters: CmdletParameters = {}, options?: CallOptions): Promise<CmdletRow[]> {
    return this.#client.invoke(this.#tenantId, cmdlet, parameters, options ?? SLOW_CMDLETS[cmdlet] ?? {});
  }

  /**
   * The object `-Identity` names, or undefined when Exchange says it couldn't be found, or answers
   * only rows that are not that object (an identity matching nothing may list every object).
   */
  async #read(
    cmdlet: string,
    parameters: CmdletParameters & { Identity: string },
  ): Promise<CmdletRow | undefined> {
    try {
      const rows = await this.#run(cmdlet, parameters);
      return rows.find((row) => carriesIdentity(row, parameters.Identity));
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async #create<T>(
    cmdlet: string,
    parameters: CmdletParameters,
    convert: (row: CmdletRow) => T,
    existing: () => Promise<T | undefined>,
    create: CreateOptions,
    options?: CallOptions,
  ): Promise<T> {
    try {
      const [row] = await this.#run(cmdlet, parameters, options);
      if (row) return convert(row);
    } catch (err) {
      const ours = retried(err) || create.ownedBefore === true;
      if (!(ours && ALREADY_EXISTS.test(exchangeText(err)))) throw err;
    }
    const found = await existing();
    // Created, but not readable yet (directory replication): worth another try later.
    if (found === undefined) throw new TransientError(`${cmdlet}: the new object could not be read back yet`);
    return found;
  }

  async #remove(cmdlet: string, parameters: CmdletParameters): Promise<void> {
    try {
      await this.#run(cmdlet, { ...parameters, Confirm: false });
    } catch (err) {
      if (err instanceof NotFoundError && retried(err)) return;
      throw err;
    }
  }

  availableCmdlets(): Promise<string[] | undefined> {
    return this.#client.availableCmdlets(this.#tenantId);
  }

  // ---- outbound connectors ----------------------------------------------------------------

  /**
   * Exchange leaves a connector in test mode out unless asked with -IncludeTestModeConnectors
   * $true (documented to list only those; public scripts read it as "all"): asked only when the
   * plain read finds nothing, so a connector that exists costs one read either way.
   */
  async getOutboundConnector(name: string): Promise<OutboundConnector | undefined> {
    const row =
      (await this.#read("Get-OutboundConnector", { Identity: name })) ??
      (await this.#read("Get-OutboundConnector", { Identity: name, IncludeTestModeConnectors: true }));
    return row && toOutboundConnector(row);
  }

  async newOutboundConnector(
    spec: OutboundConnectorSpec,
    create: CreateOptions = {},
  ): Promise<OutboundConnector> {
    return this.#create(
      "New-OutboundConnector",
      connectorParameters(spec),
      toOutboundConnector,
      () => this.getOutboundConnector(spec.name),
      create,
    );
  }

  async setOutboundConnector(
    identity: string,
    changes: Partial<OutboundConnectorSpec> & { isValidated?: boolean },
  ): Promise<void> {
    const parameters = connectorParameters(changes);
    if (changes.isValidated !== undefined) parameters.IsValidated = changes.isValidated;
    if (Object.keys(parameters).length === 0) return;
    await this.#run("Set-OutboundConnector", { Identity: identity, ...parameters });
  }

  removeOutboundConnector(identity: string): Promise<void> {
    return this.#remove("Remove-OutboundConnector", { Identity: identity });
  }

  async validateOutboundConnector(
    identity: string,
    recipients: string[],
  ): Promise<ConnectorValidationTask[]> {
    const rows = await this.#run("Validate-OutboundConnector", {
      Identity: identity,
      Recipients: [...recipients],
    });
    return rows.map(toValidationTask);
  }

  async markConnectorValidated(identity: string, recipients: string[], at: string): Promise<void> {
    await this.#run("Set-OutboundConnector", {
      Identity: identity,
      IsValidated: true,
      LastValidationTimestamp: at,
      ValidationRecipients: [...recipients],
    });
  }

  // ---- transport config and recipients ---------------------------------------------------

  async getTransportConfig(): Promise<TransportConfig> {
    const [row] = await this.#run("Get-TransportConfig");
    return toTransportConfig(row);
  }

  async setTransportConfig(changes: { journalingReportNdrTo: string | null }): Promise<void> {
    await this.#run("Set-TransportConfig", { JournalingReportNdrTo: changes.journalingReportNdrTo });
  }

  async getRecipient(identity: string): Promise<Recipient | undefined> {
    const row = await this.#read("Get-Recipient", { Identity: identity });
    return row && toRecipient(row);
  }

  async listRecipients(): Promise<Recipient[]> {
    const rows = await this.#run("Get-Recipient", { ResultSize: "Unlimited" }, LONG_READ);
    return rows.map(toRecipient);
  }

  async getAcceptedDomains(): Promise<string[]> {
    const rows = await this.#run("Get-AcceptedDomain");
    return rows
      .map((row) => text(prop(row, "DomainName") ?? prop(row, "Name")).trim())
      .filter((d) => d.length > 0);
  }

  async enableOrganizationCustomization(): Promise<void> {
    try {
      await this.#run("Enable-OrganizationCustomization");
    } catch (err) {
      if (ALREADY_CUSTOMIZED.test(exchangeText(err))) return;
      throw err;
    }
  }

  // ---- journal rules -----------------------------------------------------------------------

  async getJournalRule(name: string): Promise<JournalRule | undefined> {
    const row = await this.#read("Get-JournalRule", { Identity: name });
    return row && toJournalRule(row);
  }

  async listJournalRules(): Promise<JournalRule[]> {
    return (await this.#run("Get-JournalRule")).map(toJournalRule);
  }

  async newJournalRule(spec: JournalRuleSpec, create: CreateOptions = {}): Promise<JournalRule> {
    const parameters: CmdletParameters = {
      Name: spec.name,
      JournalEmailAddress: spec.journalEmailAddress,
      Scope: spec.scope,
      // Explicit: the cmdlet's default is a disabled rule.
      Enabled: spec.enabled,
    };
    if (spec.recipient) parameters.Recipient = spec.recipient;
    return this.#create(
      "New-JournalRule",
      parameters,
      toJournalRule,
      () => this.getJournalRule(spec.name),
      create,
    );
  }

  async setJournalRule(identity: string, changes: Partial<Omit<JournalRuleSpec, "enabled">>): Promise<void> {
    const parameters: CmdletParameters = {};
    if (changes.name !== undefined) parameters.Name = changes.name;
    if (changes.journalEmailAddress !== undefined)
      parameters.JournalEmailAddress = changes.journalEmailAddress;
    if (changes.scope !== undefined) parameters.Scope = changes.scope;
    if (changes.recipient !== undefined) parameters.Recipient = changes.recipient;
    if (Object.keys(parameters).length === 0) return;
    await this.#run("Set-JournalRule", { Identity: identity, ...parameters });
  }

  async enableJournalRule(identity: string): Promise<void> {
    await this.#run("Enable-JournalRule", { Identity: identity });
  }

  async disableJournalRule(identity: string): Promise<void> {
    await this.#run("Disable-JournalRule", { Identity: identity, Confirm: false });
  }

  removeJournalRule(identity: string): Promise<void> {
    return this.#remove("Remove-JournalRule", { Identity: identity });
  }

  // ---- distribution groups -----------------------------------------------------------------

  async getDistributionGroup(identity: string): Promise<DistributionGroup | undefined> {
    const row = await this.#read("Get-DistributionGroup", { Identity: identity });
    return row && toDistributionGroup(row);
  }

  async newDistributionGroup(
    spec: DistributionGroupSpec,
    create: CreateOptions = {},
  ): Promise<DistributionGroup> {
    const parameters: CmdletParameters = {
      Name: spec.name,
      PrimarySmtpAddress: spec.primarySmtpAddress,
      Type: "Distribution",
    };
    if (spec.members.length > 0) parameters.Members = [...spec.members];
    if (spec.owners && spec.owners.length > 0) parameters.ManagedBy = [...spec.owners];
    return this.#create(
      "New-DistributionGroup",
      parameters,
      toDistributionGroup,
      () => this.getDistributionGroup(spec.name),
      create,
      groupCreationOptions(spec.members.length),
    );
  }

  async setDistributionGroup(identity: string, changes: { name: string }): Promise<void> {
    await this.#run("Set-DistributionGroup", {
      Identity: identity,
      Name: changes.name,
      DisplayName: changes.name,
      BypassSecurityGroupManagerCheck: true,
    });
  }

  removeDistributionGroup(identity: string): Promise<void> {
    return this.#remove("Remove-DistributionGroup", {
      Identity: identity,
      BypassSecurityGroupManagerCheck: true,
    });
  }

  async listDistributionGroupMembers(identity: string): Promise<Recipient[]> {
    const rows = await this.#run(
      "Get-DistributionGroupMember",
      { Identity: identity, ResultSize: "Unlimited" },
      LONG_READ,
    );
    return rows.map(toRecipient);
  }

  async addDistributionGroupMember(identity: string, member: string): Promise<{ added: boolean }> {
    try {
      await this.#run("Add-DistributionGroupMember", {
        Identity: identity,
        Member: member,
        BypassSecurityGroupManagerCheck: true,
      });
      return { added: true };
    } catch (err) {
      // Desired state: a member that is already there is what we wanted. On a retried call
      // (the first answer was lost) it is our own add; else someone else's membership.
      if (ALREADY_MEMBER.test(exchangeText(err))) return { added: retried(err) };
      throw err;
    }
  }

  async addDistributionGroupMembers(
    identity: string,
    members: readonly string[],
  ): Promise<{ member: string; added: boolean }[]> {
    const calls = members.map((member) => ({
      cmdlet: "Add-DistributionGroupMember",
      parameters: { Identity: identity, Member: member, BypassSecurityGroupManagerCheck: true },
    }));
    // A batch is not re-sent after an uncertain failure: the step's retry compares afresh.
    const outcomes = await invokeBatch(this.#client, this.#tenantId, calls, { resend: "if-not-processed" });
    const results: { member: string; added: boolean }[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const member = members[i]!;
      if (!outcome.error) results.push({ member, added: true });
      else if (ALREADY_MEMBER.test(exchangeText(outcome.error))) results.push({ member, added: false });
      // Throttled or transient inside the batch: that one member alone, with the usual retries.
      else if (outcome.error.retryable)
        results.push({ member, ...(await this.addDistributionGroupMember(identity, member)) });
      else throw outcome.error;
    }
    return results;
  }

  async removeDistributionGroupMember(identity: string, member: string): Promise<void> {
    try {
      await this.#run("Remove-DistributionGroupMember", {
        Identity: identity,
        Member: member,
        BypassSecurityGroupManagerCheck: true,
        Confirm: false,
      });
    } catch (err) {
      // Already gone (someone removed it, or a retried call whose answer was lost).
      if (NOT_A_MEMBER.test(exchangeText(err)) || err instanceof NotFoundError) return;
      throw err;
    }
  }
}
