/**
 * The local dispatcher's queues: one per tenant and partner (as an SQS message group), each
 * worked by one run at a time, woken by a timer when it waits (instead of message visibility),
 * and backing off when the dispatcher itself fails (DynamoDB unreachable).
 */
import type { TenantEvent } from "../domain/tenant.ts";
import type { WebhookLogger } from "./delivery.ts";

export interface Job {
  /** Known until the delivery exists. */
  event?: TenantEvent;
  partnerId?: string;
  /** The delivery exists (or the event was skipped and the job is gone). */
  admitted: boolean;
  /** A delivery of this sequence is known to exist (admitted, replayed or recovered as pending). */
  delivery?: boolean;
  /** Bumped when the same sequence is queued again while it is worked on. */
  version: number;
  /**
   * Position in the tenant's queue: the sequence for events and recovered deliveries, after
   * all of them for replays (as in the SQS group, a replay goes behind what is pending).
   */
  order: number;
}

export interface TenantQueue {
  tenantId: string;
  /** Whose endpoint the queue's deliveries go to (undefined: not known to the queue). */
  partnerId?: string;
  jobs: Map<number, Job>;
  running: boolean;
  timer?: NodeJS.Timeout;
  errorDelayMs: number;
  /** Jobs were added while the queue was being worked on. */
  dirty: boolean;
}

/** Works a queue in order; returns when to come back, if waiting. */
export type QueueWork = (queue: TenantQueue) => Promise<number | undefined>;

const MAX_ERROR_DELAY_MS = 60_000;
/** Replays are ordered after every sequence (sequences are 10 digits at most). */
const REPLAY_ORDER = 1e10;

/**
 * Deliveries are ordered per tenant AND partner: after a change of owner, the previous
 * partner's pending deliveries or replays (to its own endpoint) never hold back the new owner's.
 */
export const orderingKey = (tenantId: string, partnerId: string | undefined) =>
  `${tenantId}|${partnerId ?? ""}`;

export class TenantQueues {
  readonly #queues = new Map<string, TenantQueue>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #work: QueueWork;
  readonly #logger: WebhookLogger;
  readonly #errorRetryMs: number;
  #idleWaiters: (() => void)[] = [];
  #replays = 0;
  #closed = false;

  constructor(work: QueueWork, logger: WebhookLogger, errorRetryMs: number) {
    this.#work = work;
    this.#logger = logger;
    this.#errorRetryMs = errorRetryMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a job of `sequence` (again: it is worked on anew); `replay` puts it behind the rest. */
  add(
    key: string,
    tenantId: string,
    sequence: number,
    job: Omit<Job, "version" | "order">,
    replay = false,
  ): void {
    const queue = this.#queueOf(key, tenantId);
    queue.dirty = true;
    const existing = queue.jobs.get(sequence);
    if (existing) {
      existing.version++;
      if (job.admitted) existing.delivery = true;
      // A known event can create the delivery if it does not exist (yet, or any more).
      if (job.event) Object.assign(existing, { event: job.event, partnerId: job.partnerId, admitted: false });
    } else {
      queue.jobs.set(sequence, {
        ...job,
        ...(job.admitted && { delivery: true }),
        version: 0,
        order: replay ? REPLAY_ORDER + ++this.#replays : sequence,
      });
    }
  }

  /** Starts working the queue unless it is worked on already. */
  pump(key: string): void {
    const queue = this.#queues.get(key);
    if (!queue || queue.running || this.#closed) return;
    if (queue.timer) {
      clearTimeout(queue.timer);
      queue.timer = undefined;
    }
    queue.running = true;
    const run = this.#work(queue)
      .then((waitUntil) => {
        queue.errorDelayMs = this.#errorRetryMs;
        if (waitUntil !== undefined) this.#schedulePump(key, queue, waitUntil);
      })
      .catch((err: unknown) => {
        this.#logger.error("webhook dispatch failed; retrying", {
          tenantId: queue.tenantId,
          error: (err as Error).message,
        });
        this.#schedulePump(key, queue, Date.now() + queue.errorDelayMs);
        queue.errorDelayMs = Math.min(MAX_ERROR_DELAY_MS, queue.errorDelayMs * 2);
      })
      .finally(() => {
        queue.running = false;
        this.#inFlight.delete(run);
        if (queue.jobs.size === 0 && !queue.timer) this.#queues.delete(key);
        else if ((queue.dirty || !queue.timer) && !this.#closed) this.pump(key);
        this.#notifyIdle();
      });
    this.#inFlight.add(run);
  }

  /** Resolves once every queue is empty. */
  idle(): Promise<void> {
    if (this.#queues.size === 0 && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** No more runs nor timers; resolves once the runs in progress are over. */
  async stop(): Promise<void> {
    this.#closed = true;
    for (const queue of this.#queues.values()) if (queue.timer) clearTimeout(queue.timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Forgets every queue (after {@link stop}); whoever waits for idle is told. */
  clear(): void {
    this.#queues.clear();
    this.#notifyIdle();
  }

  #queueOf(key: string, tenantId: string): TenantQueue {
    let queue = this.#queues.get(key);
    if (!queue) {
      const partnerId = key.slice(key.indexOf("|") + 1);
      queue = { tenantId, jobs: new Map(), running: false, errorDelayMs: this.#errorRetryMs, dirty: false };
      if (partnerId) queue.partnerId = partnerId;
      this.#queues.set(key, queue);
    }
    return queue;
  }

  #schedulePump(key: string, queue: TenantQueue, at: number): void {
    if (queue.timer) clearTimeout(queue.timer);
    if (this.#closed) return;
    queue.timer = setTimeout(
      () => {
        queue.timer = undefined;
        this.pump(key);
      },
      Math.max(0, at - Date.now()),
    );
    queue.timer.unref();
  }

  #notifyIdle(): void {
    if (this.#queues.size > 0 || this.#inFlight.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
