/**
 * After a crash: events a crash left in a tenant's outbox are written out, and tenants whose
 * workflow was running are marked failed (or offboarding_failed) with a clear error, so that
 * a retry finishes them.
 */
import type { DynamoTenantStore } from "../../../functions/adapters/dynamodb/tenant-store.ts";
import type { ErrorInfo } from "../../../functions/domain/errors.ts";
import type { TenantChange } from "../../../functions/domain/store.ts";
import type { EventType, TenantStatus } from "../../../functions/domain/tenant.ts";

const INTERRUPTED: ErrorInfo = {
  code: "INTERRUPTED",
  message: "The service stopped while this tenant's workflow was running; retry the tenant to finish it.",
};

const failedAs = (status: TenantStatus, type: EventType): TenantChange => ({
  status,
  error: INTERRUPTED,
  event: { type, error: INTERRUPTED },
});

/** Per status a crash can leave a tenant in: how it is recorded. */
const INTERRUPTED_CHANGES: Record<string, TenantChange> = {
  queued: failedAs("failed", "tenant.onboarding.failed"),
  running: failedAs("failed", "tenant.onboarding.failed"),
  offboarding: failedAs("offboarding_failed", "tenant.offboarding.failed"),
};

/** Marks tenants a crash left mid-workflow as failed, with an event; returns their ids. */
export async function recoverInterrupted(store: DynamoTenantStore): Promise<string[]> {
  await store.flushAllOutboxes();
  const recovered: string[] = [];
  for (const [status, change] of Object.entries(INTERRUPTED_CHANGES)) {
    let cursor: string | undefined;
    do {
      const page = await store.listTenants({
        status: status as TenantStatus,
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      for (const tenant of page.items) {
        const steps = Object.fromEntries(
          tenant.steps
            .filter((s) => s.status === "running")
            .map((s) => [s.name, { status: "failed" as const, error: INTERRUPTED }]),
        );
        try {
          await store.transition(
            tenant.tenantId,
            { ...change, expectStatus: [status as TenantStatus], steps },
            new Date().toISOString(),
          );
          recovered.push(tenant.tenantId);
        } catch {
          // it moved on meanwhile
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
  }
  return recovered;
}
