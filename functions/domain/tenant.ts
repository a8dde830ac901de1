/**
 * The tenant: what a partner asked for, where onboarding stands, and the events that got it
 * there. Pure types and rules; no AWS, no HTTP.
 *
 * Lifecycle (status):
 *
 *   queued -> running -> succeeded -> offboarding -> offboarded
 *                 |  \-> awaiting_consent --retry--> queued
 *                 |  \-> awaiting_permissions --retry--> queued
 *                 |  \-> awaiting_approval --approve--> queued (approval: required)
 *                 \-> failed --retry--> queued        offboarding -> offboarding_failed --DELETE--> offboarding
 *
 * `offboarded` tenants can be onboarded again (POST creates a new registration).
 */
import type { Approval, DriftResult, OnDrift, PlannedWrite } from "./drift.ts";
import type { ErrorInfo } from "./errors.ts";
import type { MissingPermission } from "./permissions.ts";
import type { RegionMode } from "./provider.ts";
import { type AnyStepName, type RunStepName, STEP_NAMES, type StepName } from "./step-names.ts";

export {
  ALL_STEP_NAMES,
  type AnyStepName,
  HAND_OVER_STEP,
  OFFBOARDING_STEP_NAMES,
  type OffboardingStepName,
  RUN_STEP_NAMES,
  type RunStepName,
  STEP_NAMES,
  type StepName,
} from "./step-names.ts";

export const TENANT_STATUSES = [
  "queued",
  "running",
  "awaiting_consent",
  "awaiting_permissions",
  "awaiting_approval",
  "succeeded",
  "failed",
  "offboarding",
  "offboarded",
  "offboarding_failed",
] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export const STEP_STATUSES = ["pending", "running", "succeeded", "failed", "skipped"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface Step {
  name: AnyStepName;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: ErrorInfo;
  /** Where a long step stands while it runs, e.g. "members 4,000 of 10,000". */
  progress?: string;
  /**
   * While the workflow waits to try the step again because only time helps (Exchange applying
   * Enable-OrganizationCustomization, up to 48 hours): until when it keeps trying at the latest.
   */
  waitingUntil?: string;
}

export interface GroupSpec {
  name: string;
  primarySmtpAddress: string;
  members: string[];
  /** Owners (Exchange's ManagedBy) of a group the service creates. */
  owners?: string[];
}

/** What the partner asked for (the body of `POST /v1/tenants`). */
export interface OnboardingRequest {
  tenantId: string;
  customerName: string;
  region: RegionMode;
  outboundGateway: boolean;
  ndrAddress: string;
  groups?: { eu: GroupSpec; us: GroupSpec };
  /** What a drift check that finds drift does; `report` when absent. */
  onDrift?: OnDrift;
  /** `required`: onboarding stops after check-access with a plan until approved; `none` when absent. */
  approval?: Approval;
}

/** The tenant resource of the API. */
export interface Tenant extends OnboardingRequest {
  partnerId: string;
  status: TenantStatus;
  steps: Step[];
  consentUrl?: string;
  /** In `awaiting_permissions`: each cmdlet the app may not run and the role that holds it. */
  missingPermissions?: MissingPermission[];
  /**
   * Set by offboarding when the previous JournalingReportNdrTo was empty and Exchange refused to
   * clear it: the address onboarding set is still there.
   */
  ndrAddressKept?: boolean;
  /** While `awaiting_approval`: the writes onboarding would make, in order. */
  plan?: PlannedWrite[];
  /** The latest drift check. */
  drift?: DriftResult;
  error?: ErrorInfo;
  createdAt: string;
  updatedAt: string;
}

export const EVENT_TYPES = [
  "tenant.onboarding.started",
  "tenant.onboarding.step_succeeded",
  "tenant.onboarding.step_failed",
  "tenant.onboarding.awaiting_consent",
  "tenant.onboarding.awaiting_permissions",
  "tenant.onboarding.succeeded",
  "tenant.onboarding.failed",
  "tenant.offboarding.succeeded",
  "tenant.offboarding.failed",
  "tenant.onboarding.awaiting_approval",
  "tenant.drift.detected",
  "tenant.drift.resolved",
] as const;
/**
 * Events recorded in the tenant's history (`GET .../events`) but never sent as webhooks:
 * webhook event types are fixed by the contract above, and the dispatchers only deliver those.
 */
export const HISTORY_ONLY_EVENT_TYPES = [
  "tenant.updated",
  /** Ops bound the tenant to a partner by hand (`bindTenant`), without the customer's consent link. */
  "tenant.bound_by_ops",
] as const;
export type WebhookEventType = (typeof EVENT_TYPES)[number];
export type EventType = WebhookEventType | (typeof HISTORY_ONLY_EVENT_TYPES)[number];

/** One entry of a tenant's history; the webhook body is built from it. */
export interface TenantEvent {
  /** Unique id; also the `webhook-id` of every delivery of this event. */
  id: string;
  type: EventType;
  timestamp: string;
  data: {
    tenantId: string;
    status: TenantStatus;
    sequence: number;
    step?: RunStepName;
    error?: ErrorInfo;
    /** On `tenant.offboarding.succeeded`: the NDR address could not be cleared and was left. */
    ndrAddressKept?: boolean;
    /** On `tenant.drift.*`: what the check found (differences bounded) and whether it is being repaired. */
    drift?: DriftResult;
  };
  /**
   * Stored events only, never shown: the registration's offset (partner-sequence.ts). A
   * partner sees `data.sequence - sequenceOffset`.
   */
  sequenceOffset?: number;
}

/** Steps that a tenant's request makes necessary; the others are `skipped`. */
export function applicableSteps(req: Pick<OnboardingRequest, "region" | "outboundGateway">): Set<StepName> {
  const steps = new Set<StepName>(["check-access", "journal-settings", "journal-rules"]);
  if (req.outboundGateway) {
    steps.add("connector");
    steps.add("validate-connector");
  }
  if (req.region === "split") steps.add("groups");
  return steps;
}

/** The steps of a new (or re-queued) registration, in workflow order. */
export function initialSteps(req: Pick<OnboardingRequest, "region" | "outboundGateway">): Step[] {
  const used = applicableSteps(req);
  return STEP_NAMES.map((name) => ({ name, status: used.has(name) ? "pending" : "skipped", attempts: 0 }));
}

/** Statuses from which `POST /retry` is allowed. */
export const RETRYABLE_STATUSES: readonly TenantStatus[] = [
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
];
/** Statuses from which a drift check may run (`POST .../drift-checks`, the schedule). */
export const DRIFT_CHECKABLE_STATUSES: readonly TenantStatus[] = ["succeeded"];
/** Statuses from which `PATCH` may correct the request (then `retry` or `approve` applies it). */
export const PATCHABLE_STATUSES: readonly TenantStatus[] = [
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
  "awaiting_approval",
];

/** The request fields `PATCH` may correct. */
export type TenantCorrection = Partial<
  Pick<OnboardingRequest, "ndrAddress" | "groups" | "outboundGateway" | "customerName" | "onDrift">
>;

/** Which onboarding steps re-apply a corrected field (they go back to `pending`). */
export const STEPS_USING_FIELD: Readonly<Record<keyof TenantCorrection, readonly StepName[]>> = {
  ndrAddress: ["check-access", "journal-settings"],
  groups: ["check-access", "groups", "journal-rules"],
  outboundGateway: ["connector", "validate-connector", "journal-rules"],
  customerName: ["connector", "validate-connector", "journal-rules"],
  onDrift: [],
};

/** Statuses from which `DELETE` (offboarding) is allowed. */
export const OFFBOARDABLE_STATUSES: readonly TenantStatus[] = [
  "succeeded",
  "awaiting_approval",
  "failed",
  "awaiting_consent",
  "awaiting_permissions",
  "offboarding_failed",
];

/**
 * The fields of an event's `data` that partners see (the webhook body and the events API):
 * exactly these, so that an internal field can never leak and a new public one is added once.
 */
export function publicEventData(data: TenantEvent["data"]): TenantEvent["data"] {
  return {
    tenantId: data.tenantId,
    status: data.status,
    sequence: data.sequence,
    ...(data.step !== undefined && { step: data.step }),
    ...(data.error !== undefined && { error: data.error }),
    ...(data.ndrAddressKept === true && { ndrAddressKept: true }),
    ...(data.drift !== undefined && { drift: data.drift }),
  };
}
