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
  /**
   * IsTransportRuleScoped: $true is the admin center's "only when I have a transport rule set up
   * that redirects messages to this connector": mail is not routed by RecipientDomains, so
   * journal reports do not take it. Absent in values recorded before it was read.
   */
  isTransportRuleScoped?: boolean;
  /**
   * TestMode: what New-OutboundConnector sets unless told (false) and what the guide's active
   * connector is. Get-OutboundConnector leaves test-mode connectors out unless asked; the adapter
   * asks. Absent in desired values (New's default) and in values recorded before it was read.
   */
  testMode?: boolean;
}
export interface OutboundConnector extends OutboundConnectorSpec {
  identity: string;
  isTransportRuleScoped: boolean;
  testMode: boolean;
  /** Whether the admin center shows it validated (set by `markConnectorValidated`, not by validation). */
  isValidated: boolean;
  validationRecipients: string[];
}

/**
 * One row of Validate-OutboundConnector's answer. `outcome` is `unknown` when the row carries
 * neither the boolean `IsTaskSuccessful` nor a readable status: never counted as a pass.
 */
export interface ConnectorValidationTask {
  task: string;
  outcome: "passed" | "failed" | "unknown";
  details?: string;
}

export interface TransportConfig {
  journalingReportNdrTo: string | null;
}

export interface Recipient {
  identity: string;
  /** Exchange's object GUID (stable across renames); empty when Exchange did not say. */
  guid: string;
  primarySmtpAddress: string;
  /** Exchange's RecipientTypeDetails, e.g. UserMailbox, MailUniversalDistributionGroup, GroupMailbox. */
  recipientTypeDetails: string;
  /**
   * Every string this recipient can be named by, lower case and without `smtp:`: GUIDs, alias,
   * name, user principal name and every proxy address. Members are compared by these.
   */
  names: string[];
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
  /** Exchange's immutable GUID of the rule (stays across renames); empty when Exchange did not say. */
  guid: string;
}

export interface DistributionGroupSpec {
  name: string;
  primarySmtpAddress: string;
  members: string[];
  /** ManagedBy; without it the group's owner is whatever Exchange picks for an app (unverified). */
  owners?: string[];
}
export interface DistributionGroup {
  identity: string;
  /** Exchange's immutable GUID of the group (stays across renames); empty when Exchange did not say. */
  guid: string;
  name: string;
  primarySmtpAddress: string;
  recipientTypeDetails: string;
}

export interface Organization {
  id: string;
  displayName: string;
}

/** How a New-* call treats Exchange's "already exists". */
export interface CreateOptions {
  /**
   * The service recorded the object as its own before this attempt (an earlier attempt may have
   * created it, its answer lost or its task cut off): "already exists" then returns the object.
   * Otherwise only an in-task retry of the same call is read that way.
   */
  ownedBefore?: boolean;
}

export interface ExchangeOperations {
  /**
   * The cmdlets the app may run in this tenant (its roles), as Exchange lists them; undefined
   * when Exchange gives no list. Reads only.
   */
  availableCmdlets(): Promise<string[] | undefined>;
  getOutboundConnector(name: string): Promise<OutboundConnector | undefined>;
  newOutboundConnector(spec: OutboundConnectorSpec, options?: CreateOptions): Promise<OutboundConnector>;
  setOutboundConnector(
    identity: string,
    changes: Partial<OutboundConnectorSpec> & { isValidated?: boolean },
  ): Promise<void>;
  removeOutboundConnector(identity: string): Promise<void>;
  /**
   * Runs the validation (it sends a test message: never re-sent after a client-side timeout).
   * A connector Exchange cannot find yet is a NotFoundError.
   */
  validateOutboundConnector(identity: string, recipients: string[]): Promise<ConnectorValidationTask[]>;
  /** Set-OutboundConnector -IsValidated $true -LastValidationTimestamp -ValidationRecipients. */
  markConnectorValidated(identity: string, recipients: string[], at: string): Promise<void>;

  getTransportConfig(): Promise<TransportConfig>;
  setTransportConfig(changes: { journalingReportNdrTo: string | null }): Promise<void>;

  /** undefined when no recipient has that identity; AmbiguousIdentityError when several do. */
  getRecipient(identity: string): Promise<Recipient | undefined>;
  /** Every recipient of the organisation, every page (to check many names with one listing). */
  listRecipients(): Promise<Recipient[]>;
  /** Domain names of the organisation's accepted domains (`*.x` for wildcard ones). */
  getAcceptedDomains(): Promise<string[]>;

  getJournalRule(name: string): Promise<JournalRule | undefined>;
  /** Every journal rule of the organisation (at most 50). */
  listJournalRules(): Promise<JournalRule[]>;
  newJournalRule(spec: JournalRuleSpec, options?: CreateOptions): Promise<JournalRule>;
  /** `identity`: the rule's name or GUID; `changes.name` renames it. */
  setJournalRule(identity: string, changes: Partial<Omit<JournalRuleSpec, "enabled">>): Promise<void>;
  enableJournalRule(identity: string): Promise<void>;
  disableJournalRule(identity: string): Promise<void>;
  removeJournalRule(identity: string): Promise<void>;

  getDistributionGroup(identity: string): Promise<DistributionGroup | undefined>;
  newDistributionGroup(spec: DistributionGroupSpec, options?: CreateOptions): Promise<DistributionGroup>;
  /**
   * Set-DistributionGroup: `identity` is the group's name, address or GUID; `changes.name` renames
   * it (its display name too, as New-DistributionGroup sets it). The address is never changed.
   */
  setDistributionGroup(identity: string, changes: { name: string }): Promise<void>;
  removeDistributionGroup(identity: string): Promise<void>;
  /** The members as recipients (with every name they go by), all pages. */
  listDistributionGroupMembers(identity: string): Promise<Recipient[]>;
  /** `added: false` when Exchange says it is a member already (someone else's membership). */
  addDistributionGroupMember(identity: string, member: string): Promise<{ added: boolean }>;
  /**
   * Adds several members, ten cmdlets per request (Exchange's `$batch`); one result per member,
   * in order, `added: false` for one that was a member already. Throws the first other refusal.
   */
  addDistributionGroupMembers(
    identity: string,
    members: readonly string[],
  ): Promise<{ member: string; added: boolean }[]>;
  /** Succeeds quietly when the recipient is not a member. */
  removeDistributionGroupMember(identity: string, member: string): Promise<void>;

  /**
   * Enable-OrganizationCustomization; succeeds quietly when it is already enabled. Run only
   * after a write was refused as dehydrated: it cannot be undone.
   */
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
