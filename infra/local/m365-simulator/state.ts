/**
 * What the simulator keeps for one tenant (serialisable, persisted in `dataDir`), the demo
 * recipients every lazily created tenant starts with, and a valid onboarding request built
 * on them.
 */
import { randomUUID } from "node:crypto";
import type { RegionMode } from "../../../functions/domain/provider.ts";
import type { OnboardingRequest } from "../../../functions/domain/tenant.ts";

export interface SimConnector {
  guid: string;
  name: string;
  comment: string;
  connectorType: string;
  recipientDomains: string[];
  smartHosts: string[];
  useMxRecord: boolean;
  tlsSettings: string | null;
  tlsDomain: string | null;
  enabled: boolean;
  isTransportRuleScoped: boolean;
  senderRewritingEnabled: boolean;
  allAcceptedDomains: boolean;
  cloudServicesMailEnabled: boolean;
  routeAllMessagesViaOnPremises: boolean;
  testMode: boolean;
  /** Absent on connectors stored before they were kept: Opportunistic. */
  mtaStsMode?: string;
  smtpDaneMode?: string;
  validationRecipients: string[];
  isValidated: boolean;
  lastValidationTimestamp: string | null;
  /** Validate-OutboundConnector runs since creation; the `validation.lag` setting fails the first ones. */
  validations: number;
  whenCreated: string;
  whenChanged: string;
}

/** The recipient kinds the simulator models (Exchange's RecipientTypeDetails values). */
export type RecipientTypeDetails =
  | "UserMailbox"
  | "SharedMailbox"
  | "MailUser"
  | "MailContact"
  | "MailUniversalDistributionGroup"
  | "MailUniversalSecurityGroup"
  | "DynamicDistributionGroup"
  | "GroupMailbox";

export interface SimRecipient {
  guid: string;
  /** Azure AD object id (ExternalDirectoryObjectId). */
  externalDirectoryObjectId?: string;
  name: string;
  alias: string;
  displayName: string;
  primarySmtpAddress: string;
  recipientTypeDetails: RecipientTypeDetails | string;
  /** `SMTP:` primary and `smtp:` secondary proxy addresses. */
  emailAddresses: string[];
  /** Mailboxes and mail users: their sign-in name (WindowsLiveID). */
  userPrincipalName?: string;
  /** Mail contacts and mail users: where their mail goes (`SMTP:` prefixed, as Exchange shows it). */
  externalEmailAddress?: string;
  /** Guids of members, for distribution and security groups and Microsoft 365 groups. */
  members?: string[];
  /** Guids of owners, for groups. */
  managedBy?: string[];
  /** Distribution and security groups made by New-DistributionGroup (exchange/group-settings.ts). */
  groupSettings?: SimGroupSettings;
  /** True for what the simulator seeded; the rest was created through cmdlets. */
  seeded?: boolean;
}

export interface SimGroupSettings {
  memberJoinRestriction: string;
  memberDepartRestriction: string;
  requireSenderAuthenticationEnabled: boolean;
}

export interface SimJournalRule {
  guid: string;
  name: string;
  journalEmailAddress: string;
  scope: string;
  recipient: string | null;
  enabled: boolean;
}

export interface SimAcceptedDomain {
  name: string;
  domainName: string;
  domainType: "Authoritative" | "InternalRelay" | "ExternalRelay";
  default: boolean;
  initial: boolean;
}

/** A service principal reference in Exchange (New-ServicePrincipal). */
export interface SimServicePrincipal {
  /** The app's client id. */
  appId: string;
  /** The service principal's object id in the tenant's Entra ID; also its Exchange identity. */
  objectId: string;
  displayName: string;
}

/** A custom role group: management roles, and members (service principals by object id). */
export interface SimRoleGroup {
  guid: string;
  name: string;
  description: string;
  roles: string[];
  members: string[];
}

/** Everything the simulator keeps for one tenant (serialisable). */
export interface TenantState {
  tenantId: string;
  domain: string;
  displayName: string;
  consented: boolean;
  dehydrated: boolean;
  /** Epoch ms when an Enable-OrganizationCustomization in progress completes (hydrationDelayMs). */
  hydratingUntil?: number | null;
  journalingReportNdrTo: string | null;
  /** Set-TransportConfig -JournalMessageExpirationDays (absent: 0, the default). */
  journalMessageExpirationDays?: number;
  acceptedDomains: SimAcceptedDomain[];
  connectors: SimConnector[];
  journalRules: SimJournalRule[];
  recipients: SimRecipient[];
  /**
   * Whether the app's service principal holds the Entra role Exchange Administrator (every
   * cmdlet allowed). When false, the app may run only its role groups' cmdlets. Default true.
   */
  appExchangeAdministrator: boolean;
  servicePrincipals: SimServicePrincipal[];
  roleGroups: SimRoleGroup[];
  /**
   * Epoch seconds when consent was revoked (`tamper` `revoke-consent`): access tokens issued
   * before then are refused (401), so the client fetches a new one, which Entra refuses.
   */
  tokensRevokedAt?: number;
}

/** The seeded recipients and groups of a lazily created tenant (see {@link demoMailboxes}). */
export interface DemoMailboxes {
  /** The initial (default) `.onmicrosoft.com` accepted domain. */
  domain: string;
  admin: string;
  alice: string;
  bob: string;
  /** A distribution group with alice and bob, and its name. */
  group: { name: string; address: string; members: string[] };
  /** A Microsoft 365 group (a team): a GroupMailbox, never acceptable as NDR address. */
  team: { name: string; address: string };
  /** The tenant's second accepted domain (a verified custom domain). */
  customDomain: string;
  /** Every accepted domain, the default first. */
  acceptedDomains: string[];
  /**
   * A user mailbox whose alias and UPN differ from its primary address, with a secondary
   * proxy address: every one of them resolves to her.
   */
  carol: {
    name: string;
    address: string;
    alias: string;
    userPrincipalName: string;
    secondaryAddress: string;
  };
  /** A mail contact: an external address in the address book. */
  contact: { name: string; address: string };
  /** A mail user: signs in to the tenant, mail goes to an external address. */
  mailUser: { name: string; address: string; externalAddress: string; userPrincipalName: string };
  /** A shared mailbox. */
  shared: { name: string; address: string };
  /** A mail-enabled security group (with alice). */
  securityGroup: { name: string; address: string; members: string[] };
  /** A dynamic distribution group (no static members). */
  dynamicGroup: { name: string; address: string };
  /** A distribution group that already exists, with carol as its member (adoption). */
  existingGroup: { name: string; address: string; members: string[] };
  /**
   * An identity two recipients answer to: a user mailbox's alias and a mail contact's name
   * (Identity matches Name, Alias, addresses, GUID): `Get-Recipient` calls it ambiguous.
   */
  ambiguousIdentity: string;
}

/** The addresses every lazily created simulated tenant starts with. */
export function demoMailboxes(tenantId: string): DemoMailboxes {
  const short = `t${tenantId
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(0, 8)
    .toLowerCase()}`;
  const domain = `${short}.onmicrosoft.com`;
  const customDomain = `${short}.example`;
  return {
    domain,
    admin: `admin@${domain}`,
    alice: `alice@${domain}`,
    bob: `bob@${domain}`,
    group: {
      name: "All Staff",
      address: `allstaff@${domain}`,
      members: [`alice@${domain}`, `bob@${domain}`],
    },
    team: { name: "Project Team", address: `projectteam@${domain}` },
    customDomain,
    acceptedDomains: [domain, customDomain],
    carol: {
      name: "Carol Smith",
      address: `carol.smith@${customDomain}`,
      alias: "carol",
      userPrincipalName: `carol@${domain}`,
      secondaryAddress: `c.smith@${customDomain}`,
    },
    contact: { name: "External Auditor", address: "auditor@audit-partner.example" },
    mailUser: {
      name: "Journal Archive",
      address: `archive@${domain}`,
      externalAddress: "archive@vault-provider.example",
      userPrincipalName: `archive@${domain}`,
    },
    shared: { name: "Support", address: `support@${customDomain}` },
    securityGroup: {
      name: "Finance Security",
      address: `finance-sg@${domain}`,
      members: [`alice@${domain}`],
    },
    dynamicGroup: { name: "All Users (dynamic)", address: `allusers@${domain}` },
    existingGroup: {
      name: "Journal Legacy",
      address: `journal-legacy@${customDomain}`,
      members: [`carol.smith@${customDomain}`],
    },
    ambiguousIdentity: "jlee",
  };
}

export function newTenantState(tenantId: string, consented: boolean, dehydrated: boolean): TenantState {
  const demo = demoMailboxes(tenantId);
  const state: TenantState = {
    tenantId,
    domain: demo.domain,
    displayName: `Simulated tenant ${demo.domain}`,
    consented,
    dehydrated,
    hydratingUntil: null,
    journalingReportNdrTo: null,
    acceptedDomains: acceptedDomains(demo),
    connectors: [],
    journalRules: [],
    recipients: demoRecipients(demo),
    appExchangeAdministrator: true,
    servicePrincipals: [],
    roleGroups: [],
  };
  return state;
}

/**
 * Brings a tenant persisted by an older simulator up to date: accepted domains and the
 * demo recipients added since (never changing what is there).
 */
export function upgradeTenantState(state: TenantState): TenantState {
  const demo = demoMailboxes(state.tenantId);
  state.hydratingUntil ??= null;
  state.appExchangeAdministrator ??= true;
  state.servicePrincipals ??= [];
  state.roleGroups ??= [];
  if (!Array.isArray(state.acceptedDomains) || state.acceptedDomains.length === 0)
    state.acceptedDomains = acceptedDomains(demo);
  const known = new Set(state.recipients.map((r) => r.primarySmtpAddress.toLowerCase()));
  const demoOnes = demoRecipients(demo);
  for (const r of demoOnes) {
    if (known.has(r.primarySmtpAddress.toLowerCase())) continue;
    // Members of newly added demo groups point at the existing recipients of the same address.
    if (r.members) {
      r.members = r.members.map((guid) => {
        const address = demoOnes.find((d) => d.guid === guid)?.primarySmtpAddress.toLowerCase();
        return state.recipients.find((x) => x.primarySmtpAddress.toLowerCase() === address)?.guid ?? guid;
      });
    }
    state.recipients.push(r);
  }
  for (const c of state.connectors) {
    c.tlsDomain ??= null;
    c.isTransportRuleScoped ??= false;
    c.senderRewritingEnabled ??= false;
    c.allAcceptedDomains ??= false;
    c.cloudServicesMailEnabled ??= false;
    c.routeAllMessagesViaOnPremises ??= false;
    c.testMode ??= false;
  }
  return state;
}

function acceptedDomains(demo: DemoMailboxes): SimAcceptedDomain[] {
  return [
    { name: demo.domain, domainName: demo.domain, domainType: "Authoritative", default: true, initial: true },
    {
      name: demo.customDomain,
      domainName: demo.customDomain,
      domainType: "Authoritative",
      default: false,
      initial: false,
    },
  ];
}

function demoRecipients(demo: DemoMailboxes): SimRecipient[] {
  const mailbox = (
    alias: string,
    name: string,
    address: string,
    type: RecipientTypeDetails = "UserMailbox",
  ) =>
    newRecipient({
      alias,
      name,
      address,
      type,
      userPrincipalName: type === "UserMailbox" ? `${alias}@${demo.domain}` : undefined,
      seeded: true,
    });
  /** A seeded recipient named and addressed as the demo says. */
  const seeded = (
    alias: string,
    { name, address }: { name: string; address: string },
    type: RecipientTypeDetails,
    more: { userPrincipalName?: string; externalEmailAddress?: string; secondary?: string[] } = {},
  ) => newRecipient({ alias, name, address, type, ...more, seeded: true });
  const admin = mailbox("admin", "Administrator", demo.admin);
  const alice = mailbox("alice", "Alice Martin", demo.alice);
  const bob = mailbox("bob", "Bob Jones", demo.bob);
  const group = seeded("allstaff", demo.group, "MailUniversalDistributionGroup");
  group.members = [alice.guid, bob.guid];
  const team = seeded("projectteam", demo.team, "GroupMailbox");
  team.members = [admin.guid];
  const carol = seeded(demo.carol.alias, demo.carol, "UserMailbox", {
    userPrincipalName: demo.carol.userPrincipalName,
    secondary: [demo.carol.secondaryAddress],
  });
  const contact = seeded("auditor", demo.contact, "MailContact", {
    externalEmailAddress: demo.contact.address,
  });
  const mailUser = seeded("archive", demo.mailUser, "MailUser", {
    userPrincipalName: demo.mailUser.userPrincipalName,
    externalEmailAddress: demo.mailUser.externalAddress,
  });
  const shared = mailbox("support", demo.shared.name, demo.shared.address, "SharedMailbox");
  shared.userPrincipalName = `support@${demo.domain}`;
  const security = seeded("finance-sg", demo.securityGroup, "MailUniversalSecurityGroup");
  security.members = [alice.guid];
  const dynamic = seeded("allusers", demo.dynamicGroup, "DynamicDistributionGroup");
  const legacy = seeded("journal-legacy", demo.existingGroup, "MailUniversalDistributionGroup");
  legacy.members = [carol.guid];
  legacy.managedBy = [admin.guid];
  // "jlee" is the mailbox's alias and the contact's name: an ambiguous identity.
  const jordan = seeded(
    demo.ambiguousIdentity,
    { name: "Jordan Lee", address: `jordan.lee@${demo.customDomain}` },
    "UserMailbox",
    { userPrincipalName: `jlee@${demo.domain}` },
  );
  const jordanContact = seeded(
    "jordan.lee.partner",
    { name: demo.ambiguousIdentity, address: "jordan.lee@partner-firm.example" },
    "MailContact",
    { externalEmailAddress: "jordan.lee@partner-firm.example" },
  );
  jordanContact.displayName = "Jordan Lee (partner)";
  return [
    admin,
    alice,
    bob,
    group,
    team,
    carol,
    contact,
    mailUser,
    shared,
    security,
    dynamic,
    legacy,
    jordan,
    jordanContact,
  ];
}

export function newRecipient(o: {
  alias: string;
  name: string;
  address: string;
  type: RecipientTypeDetails;
  userPrincipalName?: string | undefined;
  externalEmailAddress?: string | undefined;
  secondary?: string[];
  seeded?: boolean;
}): SimRecipient {
  const guid = randomUUID();
  const r: SimRecipient = {
    guid,
    externalDirectoryObjectId: randomUUID(),
    name: o.name,
    alias: o.alias,
    displayName: o.name,
    primarySmtpAddress: o.address,
    recipientTypeDetails: o.type,
    emailAddresses: [`SMTP:${o.address}`, ...(o.secondary ?? []).map((a) => `smtp:${a}`)],
  };
  if (o.userPrincipalName) r.userPrincipalName = o.userPrincipalName;
  if (o.externalEmailAddress) r.externalEmailAddress = `SMTP:${o.externalEmailAddress}`;
  if (o.seeded) r.seeded = true;
  return r;
}

/**
 * A valid onboarding request (the body of `POST /v1/tenants`) for a simulated tenant, built on
 * its demo mailboxes: the admin receives undeliverable journal reports, and in split mode
 * alice is in the EU list, bob and the admin in the US list.
 */
export function demoOnboardingRequest(
  tenantId: string,
  options: { customerName?: string; region?: RegionMode; outboundGateway?: boolean } = {},
): OnboardingRequest {
  const demo = demoMailboxes(tenantId);
  const region = options.region ?? "us";
  return {
    tenantId,
    customerName: options.customerName ?? `cust-${tenantId.slice(0, 8).toLowerCase()}`,
    region,
    outboundGateway: options.outboundGateway ?? false,
    ndrAddress: demo.admin,
    ...(region === "split" && {
      groups: {
        eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
        us: {
          name: "Journal US",
          primarySmtpAddress: `journal-us@${demo.domain}`,
          members: [demo.bob, demo.admin],
        },
      },
    }),
  };
}
