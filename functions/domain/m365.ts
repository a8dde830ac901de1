/**
 * The port to one customer's Microsoft 365 tenant: exactly the operations that onboarding
 * and offboarding need (README.md, docs/real-tenant.md). Values are normalised to camelCase; the adapter in
 * `functions/adapters/m365/` maps them to and from Exchange's cmdlets and Graph.
 *
 * Every method throws the named errors of `errors.ts` (ThrottledError after the in-task
 * retries are spent, ConsentRequiredError, DehydratedOrganizationError, ...).
 * "Not found" on a read is `undefined`, not an error.
 */

export type TlsSettings = "EncryptionOnly" | "CertificateValidation" | "DomainValidation";

export interface OutboundConnectorSpec {
  name: string;
  comment: string;
  connectorType: "Partner" | "OnPremises";
  recipientDomains: string[];
  smartHosts: string[];
  useMxRecord: boolean;
  tlsSettings: TlsSettings | null;
  enabled: boolean;
}
export interface OutboundConnector extends OutboundConnectorSpec {
  identity: string;
}

export interface ConnectorValidationTask {
  task: string;
  status: "Succeeded" | "Failed" | string;
  details?: string;
}

export interface TransportConfig {
  journalingReportNdrTo: string | null;
}

export interface Recipient {
  identity: string;
  primarySmtpAddress: string;
  /** Exchange's RecipientTypeDetails, e.g. UserMailbox, MailUniversalDistributionGroup, GroupMailbox. */
  recipientTypeDetails: string;
}

export interface JournalRuleSpec {
  name: string;
  journalEmailAddress: string;
  scope: "Global" | "Internal" | "External";
  /** SMTP address of the user or group whose mail is journaled; null for everyone. */
  recipient: string | null;
  enabled: boolean;
}
export interface JournalRule extends JournalRuleSpec {
  identity: string;
}

export interface DistributionGroupSpec {
  name: string;
  primarySmtpAddress: string;
  members: string[];
}
export interface DistributionGroup {
  identity: string;
  name: string;
  primarySmtpAddress: string;
  recipientTypeDetails: string;
}

export interface Organization {
  id: string;
  displayName: string;
}

export interface ExchangeOperations {
  getOutboundConnector(name: string): Promise<OutboundConnector | undefined>;
  newOutboundConnector(spec: OutboundConnectorSpec): Promise<OutboundConnector>;
  setOutboundConnector(identity: string, changes: Partial<OutboundConnectorSpec>): Promise<void>;
  removeOutboundConnector(identity: string): Promise<void>;
  validateOutboundConnector(identity: string, recipients: string[]): Promise<ConnectorValidationTask[]>;

  getTransportConfig(): Promise<TransportConfig>;
  setTransportConfig(changes: { journalingReportNdrTo: string | null }): Promise<void>;

  getRecipient(identity: string): Promise<Recipient | undefined>;

  getJournalRule(name: string): Promise<JournalRule | undefined>;
  newJournalRule(spec: JournalRuleSpec): Promise<JournalRule>;
  setJournalRule(
    identity: string,
    changes: Partial<Omit<JournalRuleSpec, "name" | "enabled">>,
  ): Promise<void>;
  enableJournalRule(identity: string): Promise<void>;
  disableJournalRule(identity: string): Promise<void>;
  removeJournalRule(identity: string): Promise<void>;

  getDistributionGroup(identity: string): Promise<DistributionGroup | undefined>;
  newDistributionGroup(spec: DistributionGroupSpec): Promise<DistributionGroup>;
  removeDistributionGroup(identity: string): Promise<void>;
  /** Primary SMTP addresses of the members, all pages. */
  listDistributionGroupMembers(identity: string): Promise<string[]>;
  addDistributionGroupMember(identity: string, member: string): Promise<void>;
  /** Succeeds quietly when the recipient is not a member. */
  removeDistributionGroupMember(identity: string, member: string): Promise<void>;

  /** Get-OrganizationConfig: whether the organisation is dehydrated (needs customization enabled). */
  getOrganizationConfig(): Promise<{ isDehydrated: boolean }>;
  /** Enable-OrganizationCustomization; succeeds quietly when it is already enabled. */
  enableOrganizationCustomization(): Promise<void>;
}

export interface GraphOperations {
  getOrganization(): Promise<Organization>;
}

/** Everything for one customer tenant. */
export interface M365Tenant {
  readonly tenantId: string;
  readonly exchange: ExchangeOperations;
  readonly graph: GraphOperations;
}

/** Opens a customer tenant; built once per cold start, shares the token cache. */
export interface M365Gateway {
  tenant(tenantId: string): M365Tenant;
  /** The admin consent URL for the app in this tenant. */
  consentUrl(tenantId: string): string;
}
