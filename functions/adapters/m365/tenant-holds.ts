/**
 * Exchange's throttling budget is per tenant (and app), not per call: after one call is answered
 * 429 with `Retry-After`, every request to that tenant from this process waits until that time
 * has passed, so that no other call spends the budget again meanwhile.
 */
import { ThrottledError } from "../../domain/errors.ts";

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TenantHolds {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  /** Holds the tenant's requests for `ms` from now (a later hold already set is kept). */
  hold(tenantId: string, ms: number): void {
    if (!(ms > 0)) return;
    const key = tenantId.toLowerCase();
    const until = this.#now() + ms;
    if ((this.#until.get(key) ?? 0) < until) this.#until.set(key, until);
  }

  /** Milliseconds the tenant is still held (0 when free). */
  remaining(tenantId: string): number {
    const key = tenantId.toLowerCase();
    const until = this.#until.get(key);
    if (until === undefined) return 0;
    const left = until - this.#now();
    if (left <= 0) {
      this.#until.delete(key);
      return 0;
    }
    return left;
  }

  /**
   * Waits until the tenant is free. A hold longer than `maxWaitMs` is not waited out in-task: it
   * throws ThrottledError with the time left, for the workflow's Retry policy (the call was not sent).
   */
  async wait(tenantId: string, operation: string, maxWaitMs: number): Promise<void> {
    for (let left = this.remaining(tenantId); left > 0; left = this.remaining(tenantId)) {
      if (left > maxWaitMs) {
        throw new ThrottledError(
          `${operation}: Exchange throttled this tenant; not sent for another ${Math.ceil(left / 1000)} s`,
          left,
        );
      }
      await this.#sleep(left);
    }
  }
}
