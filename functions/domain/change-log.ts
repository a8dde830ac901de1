/**
 * The audit trail of a customer's tenant: every write this service made there (onboarding,
 * remediation, an approved plan, offboarding), with who asked for it. Recorded at the boundary
 * of the Exchange write operations (`functions/adapters/m365/change-recorder.ts`), one entry per
 * write, so that no step can forget it; served newest first at `GET /v1/tenants/{id}/changes`.
 */
import type { Page } from "./page.ts";
import type { Json } from "./plan.ts";
import type { AnyStepName } from "./step-names.ts";

/** Who asked for the run that made a write. */
export const REQUESTERS = ["partner", "ops", "drift-remediation"] as const;
export type RequestedBy = (typeof REQUESTERS)[number];

/** One write in a customer's tenant. */
export interface ChangeRecord {
  changeId: string;
  tenantId: string;
  /** When the write was answered (ISO 8601). */
  at: string;
  run: number;
  step: AnyStepName;
  cmdlet: string;
  /** Without secrets or tokens; member lists summarised (count, first few, digest). */
  parameters: Record<string, Json>;
  outcome: "ok" | "error";
  /** The error code (see the error catalogue) when `outcome` is `error`. */
  errorCode?: string;
  requestedBy: RequestedBy;
  /**
   * Whose access made the write: the service's app (absent), or the customer's admin through
   * their own sign-in (the least-privilege setup at consent).
   */
  actor?: ChangeActor;
}

/** Who made a write: the service's app, or the customer's admin (their sign-in at consent). */
export const CHANGE_ACTORS = ["service", "customer-admin"] as const;
export type ChangeActor = (typeof CHANGE_ACTORS)[number];

/** How long an entry is kept by default: like events (EVENT_RETENTION_DAYS); the store sets a TTL from it. */
export const CHANGE_LOG_RETENTION_DAYS = 90;

export interface ChangeLogStore {
  /** Records one write (idempotent on `changeId`). */
  record(change: ChangeRecord): Promise<void>;
  /** Newest first, with an opaque cursor (InvalidCursorError for one not issued for this tenant). */
  pageChanges(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<ChangeRecord>>;
}
