/** Public types of the Microsoft 365 simulator and its control API. */
import type { DemoMailboxes, SimConnector } from "./state.ts";

export type { DemoMailboxes };

/** The three endpoints a client needs, all served by the simulator. */
export interface SimulatorEndpoints {
  authorityHost: string;
  graph: string;
  exchange: string;
}

/** Random faults applied to Graph and Exchange calls (never to identity or /_sim). */
export interface FaultRates {
  /** Share of calls answered 429 with Retry-After. */
  throttleRate?: number;
  /** Retry-After of those 429s, seconds (default 1). */
  retryAfterSeconds?: number;
  /** Share of calls answered 503. */
  serverErrorRate?: number;
  /** Share of calls whose connection is dropped without an answer. */
  dropRate?: number;
}

export interface SimulatorConfig {
  /** Added before every Graph, Exchange and identity answer. */
  latencyMs?: number;
  faults?: FaultRates;
  /** Seed of the PRNG that draws the faults; the same seed repeats the same draws. */
  seed?: number;
  /** Rows per page of Exchange list results (`@odata.nextLink` beyond). */
  pageSize?: number;
  /** Lifetime of access tokens issued from now on (default 3600 s). */
  tokenLifetimeSeconds?: number;
  /**
   * Validate-OutboundConnector: the first `lag` validations after a connector's creation fail
   * their test message; `fail` fails every task; a connector whose smart hosts include one of
   * `refuseHosts` fails both tasks with a message naming the host. Default: none.
   */
  validation?: { lag?: number; fail?: boolean; refuseHosts?: string[] };

  // ---- Exchange's real-world behaviours over time (all off by default) ----

  /**
   * After New-OutboundConnector, the cmdlets in `replicationLagCmdlets` answer
   * ManagementObjectNotFoundException for the new connector for this long (default 0: off).
   */
  replicationLagMs?: number;
  /** Same, counted in calls: the first N calls of those cmdlets about the connector (default 0: off). */
  replicationLagCalls?: number;
  /** The cmdlets replication lag applies to (default `["Validate-OutboundConnector"]`). */
  replicationLagCmdlets?: string[];
  /** `{ cmdlet: ms }`: these cmdlets answer after that delay (default `{}`). Replaces the current map. */
  slowCmdlets?: Record<string, number>;
  /**
   * Beyond this many Exchange requests in flight for one tenant, answer 429 (Retry-After 1)
   * "The maximum number of concurrent requests per tenant (N) has been exceeded." (default 0: no limit).
   */
  maxConcurrentPerTenant?: number;
  /**
   * Share (0..1) of Exchange calls answered, before the cmdlet runs, with a transient directory
   * exception (DCOverloadedException, SuitabilityDirectoryException, ServerInMMException,
   * ADServerSettingsChangedException, StorageTransientException), status 400 or 500, drawn
   * from the seeded PRNG (default 0).
   */
  directoryErrorRate?: number;
  /** Share (0..1) of Exchange calls answered 200 with a non-empty `@adminapi.errors`, cmdlet not run (default 0). */
  adminApiErrorRate?: number;
  /**
   * Whether Set-TransportConfig -JournalingReportNdrTo $null/"" clears it: `allowed`,
   * `while-no-rules` (default: refused while journal rules exist) or `never` (refused once set).
   */
  ndrClearing?: NdrClearing;
  /**
   * After Enable-OrganizationCustomization, the organisation stays dehydrated (writes refused,
   * IsDehydrated true) for this long (default 0: at once).
   */
  hydrationDelayMs?: number;
  /** Journal rules per organisation (default 50). */
  maxJournalRules?: number;
  /**
   * How Exchange answers a cmdlet outside the app's roles (an app without Exchange
   * Administrator): `not-allowed` (default: 401 "User is not allowed to call X") or
   * `not-recognized` (400 CommandNotFoundException "The term 'X' is not recognized ...").
   */
  deniedCmdletAnswer?: DeniedCmdletAnswer;
  /**
   * The form of `error.details[].message` in Exchange's error answers: `pipe` (default:
   * `ErrorId|ExceptionType|Text`) or `json` (`{"Message": ..., "TypeName": ...}`). Either way the
   * `X-ExceptionType` header names the exception.
   */
  errorDetailForm?: ErrorDetailForm;
  /**
   * Share (0..1) of tenants whose Exchange requests to the front door are answered 302 to the
   * tenant's regional host (a name under `localhost` on the same server), chosen by a hash of
   * the tenant id (default 0).
   */
  regionalRedirect?: number;
  /**
   * Each tenant may make `limit` InvokeCommand requests per `windowMs`; answers carry
   * `Rate-Limit-Limit`/`-Remaining`/`-Reset`, beyond the limit a 429 (null: off, the default).
   */
  rateLimit?: { limit: number; windowMs: number } | null;
  /**
   * Get-OutboundConnector, Get-JournalRule, Get-DistributionGroup and Get-Recipient given an
   * `-Identity` that matches nothing answer every object, as if no identity were given (the
   * reference's caution), instead of ManagementObjectNotFoundException (default false).
   */
  identityMissReturnsAll?: boolean;
}

/** See {@link SimulatorConfig.errorDetailForm}. */
export type ErrorDetailForm = "pipe" | "json";

/** See {@link SimulatorConfig.deniedCmdletAnswer}. */
export type DeniedCmdletAnswer = "not-allowed" | "not-recognized";

/** The app's access in a tenant (see {@link SimulatorControl.setAppRoles}). */
export interface AppAccess {
  /** The Entra role Exchange Administrator: every cmdlet. */
  exchangeAdministrator?: boolean;
  /**
   * Management roles of a role group whose member is the app's service principal (registered in
   * Exchange as New-ServicePrincipal would); an empty list removes that group.
   */
  roles?: string[];
}

/**
 * A change made behind the service's back (`tamper`):
 * - `remove-journal-rule` / `disable-journal-rule`: the journal rule of that name;
 * - `rename-journal-rule`: the journal rule of that name gets `newName` (its Guid stays), as the
 *   admin center's edit or `Set-JournalRule -Name` does;
 * - `set-connector`: fields of the outbound connector of that name (e.g. `smartHosts`); the
 *   change drops its validation mark, as Exchange does after an edit;
 * - `remove-recipient`: the mailbox, mail user or contact with that address (e.g. the NDR mailbox);
 * - `set-ndr-address`: JournalingReportNdrTo (null clears it);
 * - `remove-group-member`: a member (address) of the group of that name;
 * - `rename-group`: the distribution group of that name gets `newName` as its name and display
 *   name (its Guid stays), and `newAddress` as its primary address if given, as the admin
 *   center's edit of a distribution list does (assumed: both names change);
 * - `revoke-consent`: the admin removes the app: no new token, and tokens issued before are refused.
 */
export type SimTamper =
  | { action: "remove-journal-rule"; name: string }
  | { action: "disable-journal-rule"; name: string }
  | { action: "rename-journal-rule"; name: string; newName: string }
  | {
      action: "set-connector";
      name: string;
      changes: Partial<{
        smartHosts: string[];
        recipientDomains: string[];
        enabled: boolean;
        tlsSettings: string | null;
        useMxRecord: boolean;
        comment: string;
        isTransportRuleScoped: boolean;
        testMode: boolean;
      }>;
    }
  | { action: "remove-recipient"; address: string }
  | { action: "set-ndr-address"; address: string | null }
  | { action: "remove-group-member"; name: string; address: string }
  | { action: "rename-group"; name: string; newName: string; newAddress?: string }
  | { action: "revoke-consent" };

/** See {@link SimulatorConfig.ndrClearing}. */
export type NdrClearing = "allowed" | "while-no-rules" | "never";

/**
 * A failure to inject into the next matching call:
 * - `throttle`: 429 with Retry-After (seconds, or an HTTP date when a string);
 * - `server-error`: 5xx (503 by default);
 * - `drop`: the connection is closed without an answer (with `afterApplying`, once the
 *   cmdlet has run: the write happened but the caller never heard);
 * - `delay`: the answer comes after `ms` (client timeouts);
 * - `error`: any answer: an OData error for Graph/Exchange (`exceptionType` goes into the
 *   Exchange details text), an Entra error for `token` (`code` such as `invalid_client`,
 *   `message` starting with an AADSTS code).
 */
export type SimFault =
  | "throttle"
  | "server-error"
  | "drop"
  | { kind: "throttle"; retryAfterSeconds?: number; retryAfterDate?: string }
  | { kind: "server-error"; status?: number }
  | { kind: "drop"; afterApplying?: boolean }
  | { kind: "delay"; ms: number }
  | "adminapi-errors"
  | { kind: "error"; status: number; message: string; code?: string; exceptionType?: string }
  | { kind: "adminapi-errors"; errors?: string[]; afterApplying?: boolean };

/** One request the simulator received. */
export interface SimCall {
  seq: number;
  /** Epoch milliseconds with sub-millisecond precision, taken when the request arrived. */
  at: number;
  tenantId: string;
  service: "identity" | "graph" | "exchange";
  /** `token`, `openid-configuration`, `adminconsent`, `GET /organization` or the cmdlet name. */
  operation: string;
  /** Whether the call changes the tenant (New-/Set-/Remove-/Add-/Enable-/Disable- cmdlets). */
  write: boolean;
  /** For token calls: the resource the token was asked for. */
  resource?: string;
  /** For Exchange calls: the cmdlet parameters. */
  parameters?: Record<string, unknown>;
  /** Page number (1-based) of an Exchange list. */
  page?: number;
  /** HTTP status answered (0 for a dropped connection). */
  status: number;
  /** The injected or random fault, or the behaviour that answered, when there was one. */
  fault?:
    | "throttle"
    | "server-error"
    | "drop"
    | "delay"
    | "error"
    | "adminapi-errors"
    | "directory-error"
    | "concurrency-limit"
    | "regional-redirect";
  /**
   * For an InvokeCommand the tenant accepted: its Exchange requests in flight once this one
   * entered, itself included (the highest over a run is the most the tenant ever had at once).
   */
  inFlight?: number;
}

/** A connector as `tenant()` shows it; `validations`: Validate-OutboundConnector runs (they never set isValidated). */
export type ConnectorSnapshot = Pick<
  SimConnector,
  | "name"
  | "comment"
  | "connectorType"
  | "recipientDomains"
  | "smartHosts"
  | "useMxRecord"
  | "tlsSettings"
  | "tlsDomain"
  | "enabled"
  | "isTransportRuleScoped"
  | "testMode"
  | "isValidated"
  | "lastValidationTimestamp"
  | "validationRecipients"
  | "validations"
>;

export interface JournalRuleSnapshot {
  name: string;
  journalEmailAddress: string;
  scope: string;
  recipient: string | null;
  enabled: boolean;
}

export interface GroupSnapshot {
  name: string;
  displayName: string;
  /** The immutable identity Get-DistributionGroup answers (kept across renames). */
  guid: string;
  primarySmtpAddress: string;
  recipientTypeDetails: string;
  /** Primary SMTP addresses of the members. */
  members: string[];
  /** Whether the simulator seeded it (rather than a cmdlet creating it). */
  seeded: boolean;
}

export interface RecipientSnapshot {
  name: string;
  alias: string;
  primarySmtpAddress: string;
  recipientTypeDetails: string;
  emailAddresses: string[];
  userPrincipalName: string | null;
}

export interface AcceptedDomainSnapshot {
  domainName: string;
  domainType: string;
  default: boolean;
}

/** A copy of one tenant's state. */
export interface TenantSnapshot {
  tenantId: string;
  domain: string;
  consented: boolean;
  dehydrated: boolean;
  /** Enable-OrganizationCustomization ran and its hydration (hydrationDelayMs) is under way. */
  hydrating: boolean;
  journalingReportNdrTo: string | null;
  acceptedDomains: AcceptedDomainSnapshot[];
  connectors: ConnectorSnapshot[];
  journalRules: JournalRuleSnapshot[];
  groups: GroupSnapshot[];
  recipients: RecipientSnapshot[];
  /** Whether the app holds Exchange Administrator, and the role groups and service principals. */
  appExchangeAdministrator: boolean;
  servicePrincipals: { appId: string; objectId: string; displayName: string }[];
  roleGroups: { name: string; roles: string[]; members: string[] }[];
}

/**
 * The user who signs in at a tenant's authorize endpoint (the customer's admin confirming a
 * consent). Default: a Global Administrator of that tenant.
 */
export interface SimSignInUser {
  /** Directory role template ids the user holds (the ID token's `wids`). @default Global Administrator */
  roles?: string[];
  /** The tenant the user ends up signed in to (the ID token's `tid`). @default the authorize endpoint's */
  tenantId?: string;
  /**
   * Whether the ID token carries `wids` (the app's `groupMembershipClaims` includes directory
   * roles). @default true
   */
  wids?: boolean;
  /**
   * The user declines the delegated Exchange permission (`Exchange.Manage`) the sign-in asks
   * for: the token answer leaves it out and no Exchange token is issued. @default false
   */
  declineExchange?: boolean;
}

/** Inspect and steer the simulator. In-process it is synchronous; see `connectSimulator` for HTTP. */
export interface SimulatorControl {
  /** The tenant's state (created with its demo mailboxes when first seen). */
  tenant(tenantId: string): TenantSnapshot;
  /** Every call received, oldest first; only one tenant's when given. */
  calls(tenantId?: string): SimCall[];
  resetCalls(): void;
  /** Changes latency, faults, seed, page size or behaviours (merged into the current config). */
  configure(config: SimulatorConfig): void;
  /** The current configuration, every switch with its value. */
  config(): Required<Omit<SimulatorConfig, "tokenLifetimeSeconds">> & { tokenLifetimeSeconds: number };
  setConsented(tenantId: string, consented: boolean): void;
  setDehydrated(tenantId: string, dehydrated: boolean): void;
  /** Who signs in at the tenant's authorize endpoint from now on; `null`: its Global Administrator again. */
  setSignInUser(tenantId: string, user: SimSignInUser | null): void;
  /**
   * Registers a redirect URI of the app (as in its Entra registration): once one is registered,
   * the authorize endpoint accepts only registered ones (before, any loopback http(s) URI).
   */
  registerRedirectUri(uri: string): void;
  /**
   * The access tokens the tenant's authorization code grants issued to signed-in users (an
   * admin's delegated tokens), oldest first: a test can search for them where they must not be.
   */
  userTokens(tenantId: string): string[];
  /** Grants or revokes the app's access (Exchange Administrator, or a role group's roles). */
  setAppRoles(tenantId: string, access: AppAccess): void;
  /**
   * Fails the next `times` calls of `operation` (a cmdlet name, `GET /organization` or
   * `token`) for `tenantId` (`*` for any tenant).
   */
  failNext(tenantId: string, operation: string, fault: SimFault, times?: number): void;
  /**
   * Changes a tenant behind the service's back, as a customer's admin (or Microsoft) would:
   * no call is recorded. Throws when the object does not exist.
   */
  tamper(tenantId: string, change: SimTamper): void;
  /** Forgets every tenant, call and pending failure. */
  reset(): void;
  /** The seeded addresses of a tenant. */
  demo(tenantId: string): DemoMailboxes;
  /**
   * Adds `count` user mailboxes `<prefix>-<n>@<the tenant's domain>` (n from 0) and, with
   * `group`, a distribution group of that name and address whose members are the first
   * `group.members` of them: for scale tests (large groups to adopt). Returns their addresses.
   */
  addMailboxes(
    tenantId: string,
    options: { prefix: string; count: number; group?: { name: string; address: string; members: number } },
  ): string[] | Promise<string[]>;
}

export interface Simulator extends SimulatorControl {
  /** Base URL, e.g. `https://127.0.0.1:54321`. */
  readonly url: string;
  readonly caPem: string;
  /** File holding `caPem` (for NODE_EXTRA_CA_CERTS in other processes). */
  readonly caPath: string;
  readonly clientId: string;
  /** The simulator's own fake app secret (it guards nothing but the simulator). */
  readonly clientSecret: string;
  /** Key and certificate PEM of the app's client certificate, when `clientCertificate` was asked for. */
  readonly clientCertificatePem: string | undefined;
  readonly endpoints: SimulatorEndpoints;
  close(): Promise<void>;
}
