/**
 * The tenant item (`TENANT#<tenantId>` / `TENANT`): its stored shape, how it is read, and how
 * it becomes the domain's {@link StoredTenant}. Writes to it are in `tenants.ts` (state) and
 * `events.ts` (outbox trims).
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { RequestedBy } from "../../domain/change-log.ts";
import type { Approval, DriftResult, OnDrift, PlannedWrite } from "../../domain/drift.ts";
import type { ErrorInfo } from "../../domain/errors.ts";
import type { ObjectIds } from "../../domain/owned.ts";
import type { MissingPermission } from "../../domain/permissions.ts";
import type { AdoptedObjects, OwnedObjectKind, StoredTenant, TenantInternals } from "../../domain/store.ts";
import {
  type AnyStepName,
  type EventType,
  type GroupSpec,
  HAND_OVER_STEP,
  OFFBOARDING_STEP_NAMES,
  type RunStepName,
  STEP_NAMES,
  type Step,
  type StepName,
  type StepStatus,
  type Tenant,
  type TenantStatus,
} from "../../domain/tenant.ts";
import { tenantKey } from "./keys.ts";
import type { TableContext } from "./query.ts";

/** Owned objects held in the tenant item (a few names each); memberships are items of their own. */
export const OWNED_ATTRIBUTES: Record<OwnedObjectKind, string> = {
  connectors: "ownedConnectors",
  groups: "ownedGroups",
  journalRules: "ownedJournalRules",
};

/** How a registration treats the record it replaces. */
export interface RegisterOptions {
  /**
   * A change of owner: replaces the previous owner's record, ended `offboarded` at this `run`
   * (else ConflictError), and keeps what the service knows of the tenant (objects it created,
   * memberships it added, adopted objects' values from before the service, the NDR address
   * found before onboarding), so that the new owner's onboarding converges them and its
   * offboarding removes or restores them.
   */
  takeOver?: { run: number };
  /** When the partner asked (default: the registration's time), for a tenant bound later. */
  createdAt?: string;
}

/** Attributes a change of owner carries over to the new record (memberships are items of their own). */
export const SERVICE_KNOWLEDGE = [
  ...Object.values(OWNED_ATTRIBUTES),
  "adopted",
  "objectIds",
  "ownedMembers",
  "previousNdrTo",
  "customizationEnabledAt",
  "ndrAddressSet",
];

/** An event waiting in the tenant item; its sequence follows from its position (see `pendingEvents`). */
export interface OutboxEntry {
  id: string;
  type: EventType;
  timestamp: string;
  status: TenantStatus;
  step?: RunStepName;
  error?: ErrorInfo;
  ndrAddressKept?: boolean;
  drift?: DriftResult;
}

export interface StoredStep {
  status: StepStatus;
  /** What `resetSteps` goes back to (pending or skipped, fixed at registration). */
  initialStatus: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: ErrorInfo;
  progress?: string;
  waitingUntil?: string;
}

/** A record's incarnation: 10 hex characters of its registration id (execution names stay within 80). */
export function recordIncarnation(registrationId: string): string {
  return registrationId.replaceAll("-", "").slice(0, 10);
}

export interface TenantItem {
  pk: string;
  sk: string;
  tenantId: string;
  partnerId: string;
  registrationId: string;
  /** Set by each registration since execution names carry it (functions/domain/engine.ts). */
  incarnation?: string;
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
  missingPermissions?: MissingPermission[];
  ndrAddressKept?: boolean;
  error?: ErrorInfo;
  createdAt: string;
  updatedAt: string;
  run: number;
  /** Sequence of the newest event (of any registration of this tenant id). */
  seq?: number;
  /** First sequence of the current registration: older events belong to a previous one. */
  firstSequence: number;
  /** What the partner's sequence is counted from (functions/domain/partner-sequence.ts); 0 when absent. */
  sequenceOffset?: number;
  /** Per partner that held the tenant before: the last sequence it saw (partner-sequence.ts). */
  partnerSequences?: Record<string, number>;
  outbox?: OutboxEntry[];
  lastChangeId?: string;
  ownedConnectors?: Set<string>;
  ownedGroups?: Set<string>;
  ownedJournalRules?: Set<string>;
  /**
   * Written by earlier versions only (memberships as one set: it grew with the members and
   * could pass 400 KB); moved to membership items when offboarding lists them.
   */
  ownedMembers?: Set<string>;
  previousNdrTo?: string | null;
  /** Previous values of adopted objects (bounded: at most two connectors and two rules). */
  adopted?: Partial<AdoptedObjects>;
  /** Immutable identities of owned and adopted objects (absent on records written before them). */
  objectIds?: Partial<ObjectIds>;
  customizationEnabledAt?: string;
  ndrAddressSet?: string;
  onDrift?: OnDrift;
  approval?: Approval;
  /** Bounded like the request: a few writes per object, member lists summarised. */
  plan?: PlannedWrite[];
  approvedPlan?: PlannedWrite[];
  /** Bounded: differences capped (MAX_DIFFERENCES). */
  drift?: DriftResult;
  requestedBy?: RequestedBy;
  /** Bounded: the last day's, at most DRIFT_REMEDIATIONS_PER_DAY + 1. */
  remediations?: string[];
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
      ...(item.steps[HAND_OVER_STEP] ? [toStep(HAND_OVER_STEP, item.steps[HAND_OVER_STEP])] : []),
      ...STEP_NAMES.map((name) => toStep(name, item.steps[name])),
      ...OFFBOARDING_STEP_NAMES.filter((name) => item.steps[name] !== undefined).map((name) =>
        toStep(name, item.steps[name]),
      ),
    ],
    ...(item.consentUrl ? { consentUrl: item.consentUrl } : {}),
    ...(item.missingPermissions ? { missingPermissions: item.missingPermissions } : {}),
    ...(item.ndrAddressKept !== undefined ? { ndrAddressKept: item.ndrAddressKept } : {}),
    ...(item.onDrift ? { onDrift: item.onDrift } : {}),
    ...(item.approval ? { approval: item.approval } : {}),
    ...(item.plan ? { plan: item.plan } : {}),
    ...(item.drift ? { drift: item.drift } : {}),
    ...(item.error ? { error: item.error } : {}),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
  const sorted = (set: Set<string> | undefined) => [...(set ?? [])].sort();
  const internals: TenantInternals = {
    run: item.run,
    ...(item.incarnation ? { incarnation: item.incarnation } : {}),
    owned: {
      connectors: sorted(item.ownedConnectors),
      groups: sorted(item.ownedGroups),
      journalRules: sorted(item.ownedJournalRules),
    },
    adopted: {
      connectors: { ...(item.adopted?.connectors ?? {}) },
      journalRules: { ...(item.adopted?.journalRules ?? {}) },
    },
    objectIds: {
      journalRules: { ...(item.objectIds?.journalRules ?? {}) },
      groups: { ...(item.objectIds?.groups ?? {}) },
    },
    ...("previousNdrTo" in item ? { previousNdrTo: item.previousNdrTo ?? null } : {}),
    ...(item.customizationEnabledAt ? { customizationEnabledAt: item.customizationEnabledAt } : {}),
    ...(item.ndrAddressSet ? { ndrAddressSet: item.ndrAddressSet } : {}),
    ...(item.requestedBy ? { requestedBy: item.requestedBy } : {}),
    ...(item.remediations ? { remediations: [...item.remediations] } : {}),
    ...(item.approvedPlan ? { approvedPlan: item.approvedPlan } : {}),
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
    ...(stored.progress ? { progress: stored.progress } : {}),
    ...(stored.waitingUntil ? { waitingUntil: stored.waitingUntil } : {}),
  };
}
