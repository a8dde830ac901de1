/**
 * The port to tenant state. The DynamoDB adapter (`functions/adapters/dynamodb/`) implements
 * it; its key schema and access patterns are documented there.
 *
 * Consistency rules the adapter guarantees:
 * - every state change (`transition`) is ONE single-item atomic write that carries the
 *   status/step change and, when given, the event it causes, with the event's per-tenant
 *   `sequence`: a change and its event cannot be separated by a crash, and two concurrent
 *   writers never get the same sequence nor leave a gap;
 * - registration is a conditional write: exactly one concurrent registration wins.
 */
import type { RequestedBy } from "./change-log.ts";
import type { DriftResult, PlannedWrite } from "./drift.ts";
import type { ErrorInfo } from "./errors.ts";
import type {
  AdoptedKind,
  AdoptedObjects,
  IdentifiedKind,
  ObjectIds,
  OwnedKind,
  OwnedObjectKind,
} from "./owned.ts";
import type { Page } from "./page.ts";
import type { MissingPermission } from "./permissions.ts";
import type {
  AnyStepName,
  EventType,
  OnboardingRequest,
  RunStepName,
  StepStatus,
  Tenant,
  TenantCorrection,
  TenantEvent,
  TenantStatus,
} from "./tenant.ts";

export type { AdoptedKind, AdoptedObjects, OwnedKind, OwnedObjectKind } from "./owned.ts";
export type { Page } from "./page.ts";

export type Role = "partner" | "ops";

export interface Partner {
  partnerId: string;
  name: string;
  createdAt: string;
}

/** Who is calling, resolved from an API key. */
export interface Principal {
  role: Role;
  /** Set for partners. */
  partnerId?: string;
}

/** A partner key as listed: never the key, never its hash. */
export interface ApiKeyInfo {
  keyId: string;
  createdAt: string;
}

/** A principal found by key, with whether its partner has its own rate limit (AWS usage plan key). */
export interface ApiKeyPrincipal extends Principal {
  usageKey?: boolean;
}

export interface StepPatch {
  /** Replaces the whole step (attempts from 0): for a step shown for the first time. */
  fresh?: boolean;
  status?: StepStatus;
  /** Adds one to `attempts`. */
  countAttempt?: boolean;
  startedAt?: string;
  finishedAt?: string;
  /** `null` clears it. */
  error?: ErrorInfo | null;
  /** What `resetSteps` goes back to (when a correction makes the step needed or not). */
  initialStatus?: "pending" | "skipped";
  /** Where a long step stands; `null` clears it. */
  progress?: string | null;
  /** Until when the workflow retries the step at the latest while it waits; `null` clears it. */
  waitingUntil?: string | null;
}

/** Internal, never shown by the API: what offboarding needs. */
export interface TenantInternals {
  /** Increases on every (re)start of a workflow; execution names derive from it. */
  run: number;
  /** Names this record among the tenant's registrations (in execution names); absent on older records. */
  incarnation?: string;
  owned: Record<OwnedObjectKind, string[]>;
  /** Previous values of adopted objects, recorded before the first change; offboarding restores them. */
  adopted: AdoptedObjects;
  /** Immutable identities of owned and adopted objects, by the name the service knows them by. */
  objectIds: ObjectIds;
  /** JournalingReportNdrTo before we set it; `null` if it was empty; absent if never read. */
  previousNdrTo?: string | null;
  /** When this service ran Enable-OrganizationCustomization (it is run once, never again). */
  customizationEnabledAt?: string;
  /** The JournalingReportNdrTo onboarding last wrote. */
  ndrAddressSet?: string;
  /** Who asked for the current run (recorded in the audit trail with each write); `partner` when absent. */
  requestedBy?: RequestedBy;
  /** When drift remediations were started (the last day's, to limit them). */
  remediations?: string[];
  /** The plan that was approved, applied by the current run; absent when the run needs no approval. */
  approvedPlan?: PlannedWrite[];
}

export interface TenantChange {
  status?: TenantStatus;
  /** The write only happens when the current status is one of these (else ConflictError). */
  expectStatus?: readonly TenantStatus[];
  /**
   * The write only happens while this is the tenant's current run (else ConflictError): a
   * workflow execution of an older run can no longer change the tenant.
   */
  expectRun?: number;
  /**
   * The write only happens while the step's `attempts` is this (else ConflictError): a task
   * attempt that timed out can no longer write once its retry has started.
   */
  expectAttempt?: { step: AnyStepName; attempts: number };
  steps?: Partial<Record<AnyStepName, StepPatch>>;
  /** Every step back to its initial status (pending/skipped), attempts kept. */
  resetSteps?: boolean;
  error?: ErrorInfo | null;
  consentUrl?: string | null;
  /** `null` clears it. */
  missingPermissions?: MissingPermission[] | null;
  /** Increment `run` (a new workflow execution). */
  newRun?: boolean;
  /**
   * Record objects as ours before creating them. `members` (memberships) are written as items
   * of their own, after the tenant write that checks the change's conditions.
   */
  own?: Partial<Record<OwnedKind, string[]>>;
  /** Forget objects once offboarding removed them (a journal rule's recorded identity too). */
  disown?: Partial<Record<OwnedKind, string[]>>;
  /** Records an owned or adopted object's immutable identity (replacing one recorded before). */
  recordId?: { kind: IdentifiedKind; name: string; id: string };
  /** Stored only if no previous value was recorded yet. */
  previousNdrTo?: string | null;
  /** The JournalingReportNdrTo onboarding wrote. */
  ndrAddressSet?: string;
  /** Records an adopted object's previous values, once (a later record of the same object is ignored). */
  adopt?: { kind: AdoptedKind; name: string; previous: AdoptedObjects[AdoptedKind][string] };
  /** Forgets an adopted object once offboarding restored it (a journal rule's recorded identity too). */
  release?: { kind: AdoptedKind; name: string };
  /**
   * Claims the one run of Enable-OrganizationCustomization, so that concurrent steps run it
   * once: written only when no claim is recorded, or, with `customizationClaimWas`, only while
   * the recorded claim is that one (else ConflictError). `null` forgets the claim.
   */
  customizationEnabledAt?: string | null;
  customizationClaimWas?: string;
  /** `null` clears it. */
  ndrAddressKept?: boolean | null;
  /** Who asked for the run (with `newRun`). */
  requestedBy?: RequestedBy;
  /** `null` clears it. */
  drift?: DriftResult | null;
  /** `null` clears it. */
  plan?: PlannedWrite[] | null;
  /** The plan the current run applies; `null` clears it. */
  approvedPlan?: PlannedWrite[] | null;
  /** Replaces the recorded remediation times. */
  remediations?: string[];
  /** Corrected request fields (`PATCH`); `groups` replaces both groups. */
  correct?: TenantCorrection;
  /** The event this change causes; it gets the next sequence in the same write. */
  event?: {
    type: EventType;
    step?: RunStepName;
    error?: ErrorInfo;
    ndrAddressKept?: boolean;
    drift?: DriftResult;
  };
}

export interface StoredTenant {
  tenant: Tenant;
  internals: TenantInternals;
}

export interface TenantStore {
  /**
   * Registers a tenant for a partner, status `queued`. Throws ConflictError when the tenantId
   * is registered and not `offboarded` (an offboarded one is replaced). `createdAt` (default
   * `now`): when the partner asked, for a tenant registered when its customer consented later.
   */
  registerTenant(
    partnerId: string,
    request: OnboardingRequest,
    now: string,
    options?: {
      /**
       * A change of owner: replaces the previous owner's record, ended `offboarded` at this run
       * (else ConflictError), keeping what the service knows of the tenant (objects it created,
       * memberships it added, adopted objects' values from before the service, the NDR address
       * found before onboarding).
       */
      takeOver?: { run: number };
      /** When the partner asked (default `now`): a tenant registered when its customer consented later. */
      createdAt?: string;
    },
  ): Promise<StoredTenant>;
  /**
   * One read of the tenant's own record. `groups: false` leaves out `groups` (stored apart
   * when large): what the API reads, so that a tenant costs the same with large groups. With
   * `partnerId`: undefined when the tenant is another partner's, decided on the tenant item
   * before anything else is read.
   */
  getTenant(
    tenantId: string,
    options?: { groups?: boolean; partnerId?: string },
  ): Promise<StoredTenant | undefined>;
  /** Up to `limit` memberships this service added to adopted groups (`own` of `members`), in no given order. */
  listOwnedMembers(tenantId: string, limit: number): Promise<string[]>;
  /**
   * Newest first. Without `partnerId`: every partner's (ops). Throws InvalidCursorError on a bad
   * cursor. Listed tenants leave out `groups` (up to 2 x 10,000 members); `getTenant` has them.
   */
  listTenants(query: {
    partnerId?: string;
    status?: TenantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Tenant>>;
  /** Applies a change atomically; returns the new state and the event it recorded. */
  transition(
    tenantId: string,
    change: TenantChange,
    now: string,
  ): Promise<{ stored: StoredTenant; event?: TenantEvent }>;
  /**
   * Claims the tenant's on-demand drift check: the claim, or undefined while a check claimed
   * earlier has not recorded its result (nor lapsed). Recording a drift result ends it.
   */
  claimDriftCheck?(tenantId: string, now: Date): Promise<string | undefined>;
  /** Gives back a claim whose check could not be started. */
  releaseDriftCheck?(tenantId: string, claim: string): Promise<void>;
  /** Oldest first. */
  listEvents(tenantId: string, query?: { afterSequence?: number; limit?: number }): Promise<TenantEvent[]>;
  /** Oldest first, a page at a time with an opaque cursor (InvalidCursorError for one not issued). */
  pageEvents(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<TenantEvent>>;

  createPartner(name: string, now: string): Promise<Partner>;
  listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>>;
  getPartner(partnerId: string): Promise<Partner | undefined>;
  /**
   * Stores only the hash of the key. With `meta.keyId` (partner keys) the key is also listed
   * under its partner, so that it can be listed and revoked by id. With `meta.maxKeys`: a
   * ConflictError, atomically, when the partner holds that many keys already.
   */
  putApiKey(
    keyHash: string,
    principal: Principal,
    now: string,
    meta?: { keyId: string; usageKey?: boolean; maxKeys?: number },
  ): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyPrincipal | undefined>;
  /** The partner's active keys, oldest first. */
  listApiKeys(partnerId: string): Promise<ApiKeyInfo[]>;
  /** Deletes the key (its lookup fails from then on); false when the partner holds no such key. */
  revokeApiKey(partnerId: string, keyId: string): Promise<boolean>;
}
