/**
 * One run of a local dispatcher queue: first every queued event becomes its delivery (or is
 * skipped: no endpoint, type not wanted) and the tenant's dispatch cursor moves, then the
 * first delivery in order gets its attempt; until the queue is empty or has to wait.
 */
import type { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import type { WebhookDeliverer } from "./delivery.ts";
import type { LaggingCursors } from "./lagging-cursors.ts";
import type { Slots } from "./slots.ts";
import type { Job, TenantQueue } from "./tenant-queues.ts";

/** Statuses of a workflow still making events (their cursor may lag). */
const RUNNING_STATUSES: ReadonlySet<string> = new Set(["queued", "running", "offboarding"]);

export interface QueueWorkDeps {
  webhookStore: Pick<DynamoWebhookStore, "knownWithoutEndpoint">;
  deliverer: Pick<WebhookDeliverer, "admit" | "attempt">;
  cursors: LaggingCursors;
  slots: Slots;
  /** True once the dispatcher closes: the run ends after the step in progress. */
  closed: () => boolean;
}

/** Works the tenant's queue in order (sequence, then replays); returns when to come back, if waiting. */
export async function workQueue(deps: QueueWorkDeps, queue: TenantQueue): Promise<number | undefined> {
  const { tenantId } = queue;
  while (!deps.closed() && queue.jobs.size > 0) {
    queue.dirty = false;
    const ordered = [...queue.jobs.entries()].sort(([, a], [, b]) => a.order - b.order);
    // Deliveries of every queued event exist before the first is sent: partners see them
    // pending while an earlier one is retried, and a crash after this loses nothing.
    await admitQueued(deps, queue, ordered);
    // Jobs queued meanwhile may come first: order again.
    if (queue.dirty) continue;
    const sequence = ordered.map(([s]) => s).find((s) => queue.jobs.has(s));
    if (sequence === undefined) return undefined;
    const job = queue.jobs.get(sequence)!;
    if (!job.admitted) continue;
    const version = job.version;
    const outcome = await deps.slots.run(() => deps.deliverer.attempt(tenantId, sequence), queue.partnerId);
    if (outcome.state === "waiting") return outcome.until;
    if (job.version === version) queue.jobs.delete(sequence);
  }
  return undefined;
}

/** Turns each queued event into its delivery, or skips it; the cursor moves after each decision. */
async function admitQueued(deps: QueueWorkDeps, queue: TenantQueue, ordered: [number, Job][]): Promise<void> {
  const { tenantId } = queue;
  for (const [sequence, job] of ordered) {
    if (job.admitted) continue;
    const version = job.version;
    // A partner known to have no endpoint gets no delivery: nothing to read (unless a
    // delivery of this sequence exists already; admit finds it).
    const skip =
      job.partnerId !== undefined && !job.delivery && deps.webhookStore.knownWithoutEndpoint(job.partnerId);
    const delivery =
      job.event && job.partnerId && !skip ? await deps.deliverer.admit(job.event, job.partnerId) : undefined;
    if (delivery) job.delivery = true;
    if (job.event) {
      // A delivery, or the workflow's last event for now: the cursor moves now.
      if (delivery || !RUNNING_STATUSES.has(job.event.data.status))
        await deps.cursors.advanceNow(tenantId, sequence);
      else deps.cursors.lag(tenantId, sequence);
    }
    if (job.version !== version) continue;
    if (delivery || !job.event) job.admitted = true;
    else queue.jobs.delete(sequence);
  }
}
