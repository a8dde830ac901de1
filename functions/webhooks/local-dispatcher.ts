/**
 * The in-process webhook dispatcher of the local runtime: the same delivery logic as the AWS
 * dispatcher, with a queue per tenant instead of an SQS message group and timers instead of
 * message visibility.
 *
 * Nothing is lost on a crash: events are durable in the store before `enqueue` sees them,
 * each delivery is durable before its first attempt, and each tenant's dispatch cursor (the
 * highest sequence whose delivery was decided) moves only after that. `recover()` at start-up
 * picks up every tenant's events after its cursor and every pending delivery.
 *
 * Events that make no delivery (the partner has no endpoint, or it does not want the type)
 * while the tenant's workflow runs move the cursor later (with its last event, after
 * `cursorLagMs`, or on close), in one write per tenant: a crash before then only makes the
 * next start decide those events again (again no delivery).
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoWebhookStore } from "../adapters/dynamodb/webhook-store.ts";
import type { TenantStore } from "../domain/store.ts";
import type { TenantEvent } from "../domain/tenant.ts";
import { consoleLogger, type DeliveryOptions, WebhookDeliverer, type WebhookLogger } from "./delivery.ts";
import { parseRetrySchedule } from "./schedule.ts";
import type { ReplayQueue } from "./service.ts";

export interface LocalDispatcherOptions extends Omit<DeliveryOptions, "webhookStore" | "retrySchedule"> {
  /** The webhook store; or give `docClient` and `tableName` to build one. */
  webhookStore?: DynamoWebhookStore;
  docClient?: DynamoDBDocumentClient;
  tableName?: string;
  /** Tenant store: `recover()` lists tenants and their events through it. */
  store?: Pick<TenantStore, "listTenants" | "listEvents" | "getTenant">;
  /** Retry delays in ms, or text such as `"5s,5m,30m"`. @default WEBHOOK_RETRY_SCHEDULE, else Standard Webhooks' */
  retrySchedule?: readonly number[] | string;
  /** Alias of `retrySchedule`. */
  schedule?: readonly number[] | string;
  /** First wait after a failure of the dispatcher itself (DynamoDB unreachable); doubles up to 60 s. @default 1000 */
  errorRetryMs?: number;
  /** Requests in flight at once, across tenants. @default 16 */
  maxConcurrentAttempts?: number;
  /**
   * How long the cursor of events without a delivery may lag in the table while the tenant's
   * workflow runs (ms); its last event (a status other than queued, running, offboarding)
   * moves it at once. @default 30000
   */
  cursorLagMs?: number;
}

/** What `recover()` found. */
export interface RecoveryReport {
  tenants: number;
  /** Events after a tenant's dispatch cursor (not yet turned into deliveries, or skipped). */
  events: number;
  /** Deliveries still pending (mid-retry when the process stopped). */
  pendingDeliveries: number;
}

export interface LocalDispatcher extends ReplayQueue {
  /** Plugs into the store's `onEvents`: never throws, returns at once. */
  enqueue(events: readonly TenantEvent[], partnerId: string): void;
  /**
   * Resumes everything a previous process left undone: for each tenant, its pending
   * deliveries and its events after the dispatch cursor. Needs `store`. Await it before the
   * process writes new events (before the API and any other start-up recovery): a tenant's
   * new event admitted before its old ones were listed would move the cursor past them.
   */
  recover(): Promise<RecoveryReport>;
  /** Resolves once every queue is empty (all delivered or failed); tests use it. */
  idle(): Promise<void>;
  /** Stops timers, waits for attempts in flight; later enqueues are ignored. */
  close(): Promise<void>;
}

interface Job {
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

interface TenantQueue {
  tenantId: string;
  jobs: Map<number, Job>;
  running: boolean;
  timer?: NodeJS.Timeout;
  errorDelayMs: number;
  /** Jobs were added while the queue was being worked on. */
  dirty: boolean;
}

const MAX_ERROR_DELAY_MS = 60_000;
/** Replays are ordered after every sequence (sequences are 10 digits at most). */
const REPLAY_ORDER = 1e10;
const RECOVERY_CONCURRENCY = 4;
/** Statuses of a workflow still making events (their cursor may lag). */
const RUNNING_STATUSES: ReadonlySet<string> = new Set(["queued", "running", "offboarding"]);

/**
 * Deliveries are ordered per tenant AND partner: after a change of owner, the previous
 * partner's pending deliveries or replays (to its own endpoint) never hold back the new owner's.
 */
const orderingKey = (tenantId: string, partnerId: string | undefined) => `${tenantId}|${partnerId ?? ""}`;

/**
 * Builds the local dispatcher.
 *
 * @example
 * const dispatcher = createLocalDispatcher({ docClient, tableName, allowInsecureLoopback: true });
 * const store = new DynamoTenantStore({ client: docClient, tableName, onEvents: dispatcher.enqueue });
 * dispatcher.attachStore(store) // or pass `store` up front when it exists already
 * await dispatcher.recover();
 */
export function createLocalDispatcher(
  options: LocalDispatcherOptions,
): LocalDispatcher & { attachStore(store: NonNullable<LocalDispatcherOptions["store"]>): void } {
  const webhookStore =
    options.webhookStore ??
    (options.docClient && options.tableName
      ? new DynamoWebhookStore({ client: options.docClient, tableName: options.tableName })
      : undefined);
  if (!webhookStore)
    throw new TypeError("createLocalDispatcher needs webhookStore, or docClient and tableName");
  const given = options.retrySchedule ?? options.schedule;
  const schedule = typeof given === "string" ? parseRetrySchedule(given) : given;
  const logger: WebhookLogger = options.logger ?? consoleLogger;
  const { retrySchedule: _retrySchedule, schedule: _schedule, ...deliveryOptions } = options;
  const deliverer = new WebhookDeliverer({
    ...deliveryOptions,
    webhookStore,
    ...(schedule && { retrySchedule: schedule }),
  });
  const errorRetryMs = options.errorRetryMs ?? 1000;
  const slots = new Slots(options.maxConcurrentAttempts ?? 16);
  let store = options.store;
  const cursorLagMs = options.cursorLagMs ?? 30_000;
  /** Tenants' cursors decided but not yet written (events without a delivery). */
  const lagging = new Map<string, number>();
  let cursorTimer: NodeJS.Timeout | undefined;
  let cursorWrite: Promise<void> | undefined;

  /** Writes the lagging cursors (one write per tenant); those that fail are tried again later. */
  const writeCursors = (): Promise<void> => {
    if (cursorTimer) clearTimeout(cursorTimer);
    cursorTimer = undefined;
    const due = [...lagging];
    lagging.clear();
    const write = Promise.all(
      due.map(([tenantId, sequence]) =>
        webhookStore.advanceDispatchCursor(tenantId, sequence).catch((err: unknown) => {
          logger.warn("could not move a webhook dispatch cursor; trying again later", {
            tenantId,
            error: (err as Error).message,
          });
          lagCursor(tenantId, sequence);
        }),
      ),
    ).then(() => undefined);
    cursorWrite = write;
    return write;
  };

  const lagCursor = (tenantId: string, sequence: number): void => {
    lagging.set(tenantId, Math.max(sequence, lagging.get(tenantId) ?? 0));
    if (cursorTimer || closed) return;
    cursorTimer = setTimeout(() => void writeCursors(), cursorLagMs);
    cursorTimer.unref();
  };

  const queues = new Map<string, TenantQueue>();
  const inFlight = new Set<Promise<void>>();
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  const notifyIdle = () => {
    if (queues.size > 0 || inFlight.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const queueOf = (key: string, tenantId: string): TenantQueue => {
    let queue = queues.get(key);
    if (!queue) {
      queue = { tenantId, jobs: new Map(), running: false, errorDelayMs: errorRetryMs, dirty: false };
      queues.set(key, queue);
    }
    return queue;
  };

  let replays = 0;
  const add = (
    key: string,
    tenantId: string,
    sequence: number,
    job: Omit<Job, "version" | "order">,
    replay = false,
  ) => {
    const queue = queueOf(key, tenantId);
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
        order: replay ? REPLAY_ORDER + ++replays : sequence,
      });
    }
  };

  const schedulePump = (key: string, queue: TenantQueue, at: number) => {
    if (queue.timer) clearTimeout(queue.timer);
    if (closed) return;
    queue.timer = setTimeout(
      () => {
        queue.timer = undefined;
        pump(key);
      },
      Math.max(0, at - Date.now()),
    );
    queue.timer.unref();
  };

  const pump = (key: string): void => {
    const queue = queues.get(key);
    if (!queue || queue.running || closed) return;
    if (queue.timer) {
      clearTimeout(queue.timer);
      queue.timer = undefined;
    }
    queue.running = true;
    const run = work(queue.tenantId, queue)
      .then((waitUntil) => {
        queue.errorDelayMs = errorRetryMs;
        if (waitUntil !== undefined) schedulePump(key, queue, waitUntil);
      })
      .catch((err: unknown) => {
        logger.error("webhook dispatch failed; retrying", {
          tenantId: queue.tenantId,
          error: (err as Error).message,
        });
        schedulePump(key, queue, Date.now() + queue.errorDelayMs);
        queue.errorDelayMs = Math.min(MAX_ERROR_DELAY_MS, queue.errorDelayMs * 2);
      })
      .finally(() => {
        queue.running = false;
        inFlight.delete(run);
        if (queue.jobs.size === 0 && !queue.timer) queues.delete(key);
        else if ((queue.dirty || !queue.timer) && !closed) pump(key);
        notifyIdle();
      });
    inFlight.add(run);
  };

  /** Works the tenant's queue in order (sequence, then replays); returns when to come back, if waiting. */
  const work = async (tenantId: string, queue: TenantQueue): Promise<number | undefined> => {
    while (!closed && queue.jobs.size > 0) {
      queue.dirty = false;
      const ordered = [...queue.jobs.entries()].sort(([, a], [, b]) => a.order - b.order);
      // Deliveries of every queued event exist before the first is sent: partners see them
      // pending while an earlier one is retried, and a crash after this loses nothing.
      for (const [sequence, job] of ordered) {
        if (job.admitted) continue;
        const version = job.version;
        // A partner known to have no endpoint gets no delivery: nothing to read (unless a
        // delivery of this sequence exists already; admit finds it).
        const skip =
          job.partnerId !== undefined && !job.delivery && webhookStore.knownWithoutEndpoint(job.partnerId);
        const delivery =
          job.event && job.partnerId && !skip ? await deliverer.admit(job.event, job.partnerId) : undefined;
        if (delivery) job.delivery = true;
        if (job.event) {
          if (delivery || !RUNNING_STATUSES.has(job.event.data.status)) {
            // A delivery, or the workflow's last event for now: the cursor moves now.
            const lag = lagging.get(tenantId);
            if (lag !== undefined && lag <= sequence) lagging.delete(tenantId);
            await webhookStore.advanceDispatchCursor(tenantId, Math.max(sequence, lag ?? 0));
          } else lagCursor(tenantId, sequence);
        }
        if (job.version !== version) continue;
        if (delivery || !job.event) job.admitted = true;
        else queue.jobs.delete(sequence);
      }
      // Jobs queued meanwhile may come first: order again.
      if (queue.dirty) continue;
      const sequence = ordered.map(([s]) => s).find((s) => queue.jobs.has(s));
      if (sequence === undefined) return undefined;
      const job = queue.jobs.get(sequence)!;
      if (!job.admitted) continue;
      const version = job.version;
      const outcome = await slots.run(() => deliverer.attempt(tenantId, sequence));
      if (outcome.state === "waiting") return outcome.until;
      if (job.version === version) queue.jobs.delete(sequence);
    }
    return undefined;
  };

  const dispatcher = {
    enqueue(events: readonly TenantEvent[], partnerId: string): void {
      if (closed) return;
      const touched = new Set<string>();
      for (const event of events) {
        const key = orderingKey(event.data.tenantId, partnerId);
        add(key, event.data.tenantId, event.data.sequence, { event, partnerId, admitted: false });
        touched.add(key);
      }
      for (const key of touched) pump(key);
    },

    async queueReplay(delivery: { tenantId: string; sequence: number; partnerId?: string }): Promise<void> {
      if (closed) throw new Error("the webhook dispatcher is closed");
      const key = orderingKey(delivery.tenantId, delivery.partnerId);
      add(key, delivery.tenantId, delivery.sequence, { admitted: true }, true);
      pump(key);
    },

    async recover(): Promise<RecoveryReport> {
      if (!store) throw new TypeError("recover() needs the tenant store (option `store` or attachStore)");
      const report: RecoveryReport = { tenants: 0, events: 0, pendingDeliveries: 0 };
      const tenantStore = store;
      let cursor: string | undefined;
      do {
        const page = await tenantStore.listTenants({ limit: 100, ...(cursor !== undefined && { cursor }) });
        for (let i = 0; i < page.items.length; i += RECOVERY_CONCURRENCY) {
          await Promise.all(
            page.items.slice(i, i + RECOVERY_CONCURRENCY).map(async (tenant) => {
              const { tenantId, partnerId } = tenant;
              // Lists show partners' claims too (records of a tenant bound to someone else): only
              // the bound tenant's owner gets its events.
              if (!(await tenantStore.getTenant(tenantId, { partnerId }))) return;
              const [pending, dispatched] = await Promise.all([
                webhookStore.pendingDeliveries(tenantId),
                webhookStore.getDispatchCursor(tenantId),
              ]);
              const events = await tenantStore.listEvents(tenantId, { afterSequence: dispatched });
              report.tenants++;
              report.events += events.length;
              report.pendingDeliveries += pending.length;
              if (closed) return;
              const touched = new Set<string>();
              for (const delivery of pending) {
                const key = orderingKey(tenantId, delivery.partnerId);
                add(key, tenantId, delivery.sequence, { admitted: true });
                touched.add(key);
              }
              const key = orderingKey(tenantId, partnerId);
              for (const event of events) {
                add(key, tenantId, event.data.sequence, { event, partnerId, admitted: false });
                touched.add(key);
              }
              for (const k of touched) pump(k);
            }),
          );
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return report;
    },

    idle(): Promise<void> {
      if (queues.size === 0 && inFlight.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },

    async close(): Promise<void> {
      closed = true;
      for (const queue of queues.values()) if (queue.timer) clearTimeout(queue.timer);
      await Promise.allSettled([...inFlight]);
      await cursorWrite;
      await writeCursors();
      queues.clear();
      notifyIdle();
    },

    attachStore(tenantStore: NonNullable<LocalDispatcherOptions["store"]>): void {
      store = tenantStore;
    },
  };
  return dispatcher;
}

/** At most `size` tasks at a time; the others wait in arrival order. */
class Slots {
  readonly #size: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("maxConcurrentAttempts must be >= 1");
    this.#size = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.#size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }
}
