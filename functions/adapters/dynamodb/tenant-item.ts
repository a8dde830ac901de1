/**
 * The tenant item (`TENANT#<tenantId>` / `TENANT`): its stored shape, how it is read, and how
 * it becomes the domain's {@link StoredTenant}. Writes to it are in `tenants.ts` (state) and
 * `events.ts` (outbox trims).
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { ErrorInfo } from "../../domain/errors.ts";
import type { AdoptedObjects, OwnedKind, StoredTenant, TenantInternals } from "../../domain/store.ts";
import {
  type AnyStepName,
  type EventType,
  type GroupSpec,
  OFFBOARDING_STEP_NAMES,
  STEP_NAMES,
  type Step,
  type StepName,
  type StepStatus,
  type Tenant,
  type TenantStatus,
} from "../../domain/tenant.ts";
import { tenantKey } from "./keys.ts";
import type { TableContext } from "./query.ts";

export const OWNED_ATTRIBUTES: Record<OwnedKind, string> = {
  connectors: "ownedConnectors",
  groups: "ownedGroups",
  journalRules: "ownedJournalRules",
  members: "ownedMembers",
};

/** An event waiting in the tenant item; its sequence follows from its position (see `pendingEvents`). */
export interface OutboxEntry {
  id: string;
  type: EventType;
  timestamp: string;
  status: TenantStatus;
  step?: StepName;
  error?: ErrorInfo;
  ndrAddressKept?: boolean;
}

export interface StoredStep {
  status: StepStatus;
  /** What `resetSteps` goes back to (pending or skipped, fixed at registration). */
  initialStatus: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: ErrorInfo;
}

export interface TenantItem {
  pk: string;
  sk: string;
  tenantId: string;
  partnerId: string;
  registrationId: string;
  customerName: string;
  region: Tenant["region"];
  outboundGateway: boolean;
  ndrAddress: string;
  groups?: { eu: GroupSpec; us: GroupSpec };
  groupsParts?: number;
  /** Prefix of the groups' parts when a PATCH replaced them; else `registrationId`. */
  groupsPartsId?: string;
  status: TenantStatus;
  /** Onboarding's steps always; offboarding's once it has started. */
  steps: Record<StepName, StoredStep> & Partial<Record<AnyStepName, StoredStep>>;
  consentUrl?: string;
  ndrAddressKept?: boolean;
  error?: ErrorInfo;
  createdAt: string;
  updatedAt: string;
  run: number;
  /** Sequence of the newest event (of any registration of this tenant id). */
  seq?: number;
  /** First sequence of the current registration: older events belong to a previous one. */
  firstSequence: number;
  outbox?: OutboxEntry[];
  lastChangeId?: string;
  ownedConnectors?: Set<string>;
  ownedGroups?: Set<string>;
  ownedJournalRules?: Set<string>;
  /** Memberships we added to groups we did not create: `[group, member]` as JSON. */
  ownedMembers?: Set<string>;
  previousNdrTo?: string | null;
  /** Previous values of adopted objects (bounded: at most two connectors and two rules). */
  adopted?: Partial<AdoptedObjects>;
  customizationEnabledAt?: string;
  ndrAddressSet?: string;
}

/** The tenant item, read consistently. */
export async function readTenantItem(
  { client, table }: TableContext,
  tenantId: string,
): Promise<TenantItem | undefined> {
  const { Item } = await client.send(
    new GetCommand({ TableName: table, Key: tenantKey(tenantId), ConsistentRead: true }),
  );
  return Item as TenantItem | undefined;
}

export function toStoredTenant(item: TenantItem, groups: TenantItem["groups"]): StoredTenant {
  const tenant: Tenant = {
    tenantId: item.tenantId,
    partnerId: item.partnerId,
    customerName: item.customerName,
    region: item.region,
    outboundGateway: item.outboundGateway,
    ndrAddress: item.ndrAddress,
    ...(groups ? { groups } : {}),
    status: item.status,
    steps: [
      ...STEP_NAMES.map((name) => toStep(name, item.steps[name])),
      ...OFFBOARDING_STEP_NAMES.filter((name) => item.steps[name] !== undefined).map((name) =>
        toStep(name, item.steps[name]),
      ),
    ],
    ...(item.consentUrl ? { consentUrl: item.consentUrl } : {}),
    ...(item.ndrAddressKept !== undefined ? { ndrAddressKept: item.ndrAddressKept } : {}),
    ...(item.error ? { error: item.error } : {}),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
  const sorted = (set: Set<string> | undefined) => [...(set ?? [])].sort();
  const internals: TenantInternals = {
    run: item.run,
    owned: {
      connectors: sorted(item.ownedConnectors),
      groups: sorted(item.ownedGroups),
      journalRules: sorted(item.ownedJournalRules),
      members: sorted(item.ownedMembers),
    },
    adopted: {
      connectors: { ...(item.adopted?.connectors ?? {}) },
      journalRules: { ...(item.adopted?.journalRules ?? {}) },
    },
    ...("previousNdrTo" in item ? { previousNdrTo: item.previousNdrTo ?? null } : {}),
    ...(item.customizationEnabledAt ? { customizationEnabledAt: item.customizationEnabledAt } : {}),
    ...(item.ndrAddressSet ? { ndrAddressSet: item.ndrAddressSet } : {}),
  };
  return { tenant, internals };
}

function toStep(name: AnyStepName, stored: StoredStep | undefined): Step {
  if (!stored) return { name, status: "skipped", attempts: 0 };
  return {
    name,
    status: stored.status,
    attempts: stored.attempts,
    ...(stored.startedAt ? { startedAt: stored.startedAt } : {}),
    ...(stored.finishedAt ? { finishedAt: stored.finishedAt } : {}),
    ...(stored.error ? { error: stored.error } : {}),
  };
}
