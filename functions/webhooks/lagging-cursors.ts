/**
 * The local dispatcher's cursors that may lag: events that make no delivery while the tenant's
 * workflow runs move the tenant's dispatch cursor later (after `lagMs`, with its next decided
 * event, or on close), in one write per tenant. A crash before then only makes the next start
 * decide those events again (again no delivery).
 */
import type { WebhookLogger } from "./delivery.ts";

export class LaggingCursors {
  readonly #advance: (tenantId: string, sequence: number) => Promise<void>;
  readonly #logger: WebhookLogger;
  readonly #lagMs: number;
  /** Tenants' cursors decided but not yet written. */
  readonly #lagging = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #write: Promise<void> | undefined;
  #stopped = false;

  /** `advance` writes a tenant's cursor (never back). */
  constructor(
    advance: (tenantId: string, sequence: number) => Promise<void>,
    logger: WebhookLogger,
    lagMs: number,
  ) {
    this.#advance = advance;
    this.#logger = logger;
    this.#lagMs = lagMs;
  }

  /** The tenant's cursor may move to `sequence` later. */
  lag(tenantId: string, sequence: number): void {
    this.#lagging.set(tenantId, Math.max(sequence, this.#lagging.get(tenantId) ?? 0));
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => void this.flush(), this.#lagMs);
    this.#timer.unref();
  }

  /** Moves the tenant's cursor to `sequence` now, or further when more lags (taken along). */
  advanceNow(tenantId: string, sequence: number): Promise<void> {
    const lag = this.#lagging.get(tenantId);
    if (lag !== undefined && lag <= sequence) this.#lagging.delete(tenantId);
    return this.#advance(tenantId, Math.max(sequence, lag ?? 0));
  }

  /** Writes the lagging cursors (one write per tenant); those that fail are tried again later. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const due = [...this.#lagging];
    this.#lagging.clear();
    const write = Promise.all(
      due.map(([tenantId, sequence]) =>
        this.#advance(tenantId, sequence).catch((err: unknown) => {
          this.#logger.warn("could not move a webhook dispatch cursor; trying again later", {
            tenantId,
            error: (err as Error).message,
          });
          this.lag(tenantId, sequence);
        }),
      ),
    ).then(() => undefined);
    this.#write = write;
    return write;
  }

  /** No more timers: what lags from now on is written by {@link close}. */
  stop(): void {
    this.#stopped = true;
  }

  /** Waits for a write in progress, then writes what still lags. */
  async close(): Promise<void> {
    this.#stopped = true;
    await this.#write;
    await this.flush();
  }
}
