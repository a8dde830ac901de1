/**
 * When a workflow execution ends FAILED, TIMED_OUT or ABORTED, its tenant may still say
 * `queued`, `running` or `offboarding`: every failure our definition catches is recorded, but an
 * execution that times out, is aborted, or exhausts the retries of its own bookkeeping never
 * gets to. This records such a run as failed (INTERRUPTED, with its event, so the partner hears
 * of it), guarded by the run: an outcome already recorded, or a newer run, is left alone.
 *
 * In AWS an EventBridge rule on Step Functions' "Execution Status Change" invokes it; locally
 * the runtime's start-up recovery does the same for executions a crash cut off.
 */
import type { WorkflowKind } from "../domain/engine.ts";
import { ConflictError } from "../domain/errors.ts";
import type { TenantStore } from "../domain/store.ts";
import type { TenantStatus } from "../domain/tenant.ts";
import { IN_FLIGHT, STRANDED } from "../domain/workflow-runs.ts";

export interface EndedExecution {
  kind: WorkflowKind;
  tenantId: string;
  run: number;
  /** Step Functions' status: FAILED, TIMED_OUT or ABORTED. */
  status: string;
}

const FROM: Record<WorkflowKind, TenantStatus[]> = {
  onboarding: Object.entries(IN_FLIGHT)
    .filter(([, kind]) => kind === "onboarding")
    .map(([status]) => status as TenantStatus),
  offboarding: Object.entries(IN_FLIGHT)
    .filter(([, kind]) => kind === "offboarding")
    .map(([status]) => status as TenantStatus),
};

/** Records the run as failed when nothing else did; returns whether it changed the tenant. */
export async function recordEndedExecution(
  store: Pick<TenantStore, "transition">,
  ended: EndedExecution,
  now: string,
): Promise<boolean> {
  try {
    await store.transition(
      ended.tenantId,
      { ...STRANDED[ended.kind], expectStatus: FROM[ended.kind], expectRun: ended.run },
      now,
    );
    return true;
  } catch (err) {
    if (err instanceof ConflictError) return false; // recorded already, or a newer run holds it
    throw err;
  }
}

/** The ended execution an EventBridge "Step Functions Execution Status Change" event describes. */
export function endedExecutionOf(detail: {
  name?: string;
  status?: string;
  input?: string | null;
}): EndedExecution | undefined {
  const kind: WorkflowKind | undefined = detail.name?.startsWith("on-")
    ? "onboarding"
    : detail.name?.startsWith("off-")
      ? "offboarding"
      : undefined;
  if (!kind || !detail.status || !detail.input) return undefined;
  try {
    const input = JSON.parse(detail.input) as { tenantId?: unknown; run?: unknown };
    if (typeof input.tenantId !== "string" || typeof input.run !== "number") return undefined;
    return { kind, tenantId: input.tenantId, run: input.run, status: detail.status };
  } catch {
    return undefined;
  }
}
