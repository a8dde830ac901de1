/**
 * A tenant's workflow runs as the tenant use cases see them: starting one (and recording a
 * start the engine refused), and a stranded run (one the engine no longer runs while the
 * tenant's status says a workflow holds it) recorded as failed before a retry or DELETE acts.
 */
import { type WorkflowEngine, type WorkflowKind, workflowInput } from "./engine.ts";
import { ConflictError, type ErrorInfo, WorkflowStartError } from "./errors.ts";
import type { StoredTenant, TenantChange, TenantStore } from "./store.ts";
import type { EventType, Tenant, TenantStatus } from "./tenant.ts";

/** A run this long after the tenant's last change is judged on one look at the engine. */
export const STRANDED_SETTLED_MS = 5 * 60_000;

/** Statuses in which a workflow of that kind holds the tenant. */
export const IN_FLIGHT: Readonly<Partial<Record<TenantStatus, WorkflowKind>>> = {
  queued: "onboarding",
  running: "onboarding",
  offboarding: "offboarding",
};

const STRANDED_ERROR: ErrorInfo = {
  code: "INTERRUPTED",
  message:
    "The workflow stopped without recording an outcome (aborted, timed out or never started); retry the tenant.",
};

/**
 * How a stranded tenant is recorded: before a retry or DELETE acts on it, and when the engine
 * reports an execution that ended without recording its outcome.
 */
export const STRANDED: Readonly<Record<WorkflowKind, TenantChange>> = {
  onboarding: {
    status: "failed",
    error: STRANDED_ERROR,
    event: { type: "tenant.onboarding.failed", error: STRANDED_ERROR },
  },
  offboarding: {
    status: "offboarding_failed",
    error: STRANDED_ERROR,
    event: { type: "tenant.offboarding.failed", error: STRANDED_ERROR },
  },
};

/** What happens to a tenant when its workflow cannot be started. */
const START_FAILURE: Record<WorkflowKind, { status: TenantStatus; from: TenantStatus; event: EventType }> = {
  onboarding: { status: "failed", from: "queued", event: "tenant.onboarding.failed" },
  offboarding: { status: "offboarding_failed", from: "offboarding", event: "tenant.offboarding.failed" },
};

/** What starting a run needs: the engine's start, and the store to record a refused start. */
export interface StartPorts {
  store: Pick<TenantStore, "transition">;
  engine: Pick<WorkflowEngine, "start">;
  clock: () => Date;
}

/**
 * Starts the run the stored tenant is at; returns the tenant. When the engine refuses, the
 * tenant is recorded `failed` (or `offboarding_failed`), retryable, and WorkflowStartError thrown.
 */
export async function startWorkflow(
  ports: StartPorts,
  kind: WorkflowKind,
  stored: StoredTenant,
): Promise<Tenant> {
  const { tenantId } = stored.tenant;
  try {
    await ports.engine.start(kind, workflowInput(stored));
    return stored.tenant;
  } catch (cause) {
    const failure = START_FAILURE[kind];
    const error: ErrorInfo = {
      code: "WORKFLOW_START_FAILED",
      message: `The ${kind} workflow could not be started; retry the tenant.`,
    };
    await ports.store
      .transition(
        tenantId,
        {
          status: failure.status,
          expectStatus: [failure.from],
          error,
          event: { type: failure.event, error },
        },
        ports.clock().toISOString(),
      )
      // The workflow may have started after all and moved the tenant on: its state wins.
      .catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      });
    throw new WorkflowStartError(error.message, { cause });
  }
}

/** What judging a run stranded needs: the engine's view of it, and the store to record it. */
export interface StrandedPorts {
  store: Pick<TenantStore, "transition" | "getTenant">;
  engine: Pick<WorkflowEngine, "describe" | "consistentDescribe">;
  clock: () => Date;
  /**
   * With an eventually consistent engine: how long to wait before the second look that confirms
   * a run is stranded.
   */
  strandedConfirmMs: number;
}

/**
 * The tenant, with a stranded run first recorded as failed (with its event, as the local
 * runtime's start-up does), so that retry and DELETE treat it like any failure.
 */
export async function settleStranded(ports: StrandedPorts, stored: StoredTenant): Promise<StoredTenant> {
  const kind = IN_FLIGHT[stored.tenant.status];
  if (!kind || !(await isStranded(ports, stored))) return stored;
  const change = STRANDED[kind];
  try {
    const { stored: failed } = await ports.store.transition(
      stored.tenant.tenantId,
      { ...change, expectStatus: [stored.tenant.status], expectRun: stored.internals.run },
      ports.clock().toISOString(),
    );
    return failed;
  } catch (err) {
    // It moved on meanwhile (its workflow did record an outcome): decide on what it is now.
    if (!(err instanceof ConflictError)) throw err;
    return (await ports.store.getTenant(stored.tenant.tenantId, { groups: false })) ?? stored;
  }
}

/**
 * A tenant whose status says a workflow holds it (`queued`, `running`, `offboarding`) while
 * the engine has no live execution of its run: the API died between registering and starting
 * it, or the execution was aborted or timed out before it could record the outcome. Any late
 * task of that run is refused by the store (`expectRun`).
 */
async function isStranded(ports: StrandedPorts, stored: StoredTenant): Promise<boolean> {
  const kind = IN_FLIGHT[stored.tenant.status];
  if (!kind) return false;
  const { engine } = ports;
  const input = workflowInput(stored);
  if ((await engine.describe(kind, input))?.status === "RUNNING") return false;
  // Step Functions' DescribeExecution is eventually consistent: an execution started a moment
  // ago may not be found yet. Unless the tenant has not changed for a while, look again a few
  // seconds later, and only a run that is still not running is stranded.
  if (engine.consistentDescribe) return true;
  if (ports.clock().getTime() - Date.parse(stored.tenant.updatedAt) >= STRANDED_SETTLED_MS) return true;
  await new Promise((resolve) => setTimeout(resolve, ports.strandedConfirmMs));
  return (await engine.describe(kind, input))?.status !== "RUNNING";
}
