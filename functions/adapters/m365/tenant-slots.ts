/**
 * Requests in flight per tenant from this process: a counting semaphore per tenant, whose limit
 * narrows when Exchange refuses a request for its own per-tenant concurrency limit. Exchange does
 * not publish that limit (docs/m365-fidelity.md, the concurrency row: assumed); when it is lower
 * than ours, sending our full count again after each Retry-After is refused the same way every
 * time, and a call that loses that race on each of its attempts fails the tenant with
 * M365_THROTTLED. After a refusal the tenant's limit becomes one less than the requests then in
 * flight (at least one), and stays so for `narrowedForMs` after the last refusal.
 * Idle tenants leave no entry behind.
 */

interface Slot {
  active: number;
  waiting: (() => void)[];
}

export interface TenantSlotsOptions {
  /** How long a narrowed limit holds after the last refusal. @default 15 minutes (a task's longest run) */
  narrowedForMs?: number;
  now?: () => number;
}

/** Narrowed limits kept at most; expired ones are dropped first. */
const MAX_NARROWED = 10_000;

export class TenantSlots {
  readonly #max: number;
  readonly #narrowedForMs: number;
  readonly #now: () => number;
  readonly #slots = new Map<string, Slot>();
  readonly #narrowed = new Map<string, { limit: number; until: number }>();

  constructor(max: number, options: TenantSlotsOptions = {}) {
    this.#max = Math.max(1, Math.floor(max));
    this.#narrowedForMs = options.narrowedForMs ?? 15 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** The configured limit. */
  get max(): number {
    return this.#max;
  }

  /** The tenant's limit now: the configured one, or a narrower one after a refusal. */
  limit(tenantId: string): number {
    const key = tenantId.toLowerCase();
    const narrowed = this.#narrowed.get(key);
    if (!narrowed) return this.#max;
    if (narrowed.until <= this.#now()) {
      this.#narrowed.delete(key);
      return this.#max;
    }
    return narrowed.limit;
  }

  /** Exchange refused a request of this tenant for concurrency while it held a slot. */
  narrow(tenantId: string): void {
    const key = tenantId.toLowerCase();
    const active = this.#slots.get(key)?.active ?? 1;
    const limit = Math.max(1, Math.min(this.limit(tenantId), active - 1));
    if (this.#narrowed.size >= MAX_NARROWED) this.#prune();
    this.#narrowed.set(key, { limit, until: this.#now() + this.#narrowedForMs });
  }

  async acquire(tenantId: string): Promise<() => void> {
    const key = tenantId.toLowerCase();
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.#slots.set(key, slot);
    }
    const s = slot;
    if (s.active >= this.limit(tenantId)) await new Promise<void>((resolve) => s.waiting.push(resolve));
    else s.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      s.active -= 1;
      // Waiters go in order while the tenant's limit (narrowed or widened again) has room.
      while (s.waiting.length > 0 && s.active < this.limit(tenantId)) {
        s.active += 1;
        s.waiting.shift()?.();
      }
      if (s.active === 0) this.#slots.delete(key);
    };
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, n] of this.#narrowed) if (n.until <= now) this.#narrowed.delete(key);
    // Still full: the oldest entry goes (a Map iterates in insertion order).
    if (this.#narrowed.size >= MAX_NARROWED) {
      const oldest = this.#narrowed.keys().next().value;
      if (oldest !== undefined) this.#narrowed.delete(oldest);
    }
  }
}
