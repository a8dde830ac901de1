/**
 * One environment at a time sends a tenant's Exchange requests. Exchange limits the requests a
 * tenant may have in flight; the Exchange client keeps at most its cap in flight per tenant, but
 * only inside its own process, and a tenant's work can run in several environments at once (an
 * onboarding task, an offboarding, a drift check, each in its own Lambda container). Before a
 * request, the environment takes the tenant's lease (`TenantLeaseStore`, one conditional write)
 * unless it holds it already; it keeps it while it has requests for the tenant (renewed every
 * third of the lease time), and frees it `lingerMs` after the last one, or at the end of the
 * Lambda invocation (`releaseIdle`). A lease not renewed expires after `leaseMs`: an environment
 * that died holding it blocks the tenant that long, no longer. Another environment's lease is
 * waited for up to `maxWaitMs`, then the call fails with TenantBusyError (nothing sent), which the
 * workflow retries.
 */
import { randomUUID } from "node:crypto";
import { TenantBusyError } from "../../domain/errors.ts";
import type { TenantLeaseStore } from "../../domain/tenant-lease.ts";

export interface TenantLeasesOptions {
  store: TenantLeaseStore;
  /** This environment's id in the lease. @default a random UUID (one per cold start) */
  owner?: string;
  /** A lease not renewed is free after this long. @default 60000 */
  leaseMs?: number;
  /** Longest wait for another environment's lease before TenantBusyError. @default 30000 */
  maxWaitMs?: number;
  /** The lease is kept this long after the environment's last request to the tenant. @default 250 */
  lingerMs?: number;
  /** Told when a renewal, release or hold could not be written (the calls go on). */
  onError?: (err: unknown) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** What a call gets once the environment holds the tenant's lease. */
export interface LeaseEntry {
  /** Until when (epoch ms) Exchange asked the tenant's requests to wait (0: no hold). */
  holdUntilMs: number;
  /** The call is done (idempotent). */
  leave(): void;
}

interface Held {
  /** Calls in this environment that entered and have not left. */
  users: number;
  /** Until when (local clock) requests may be sent without taking the lease again. */
  validUntil: number;
  holdUntilMs: number;
  taking?: Promise<void> | undefined;
  releasing?: Promise<void> | undefined;
  renewTimer?: ReturnType<typeof setInterval> | undefined;
  releaseTimer?: ReturnType<typeof setTimeout> | undefined;
}

/** First and longest pause between two tries of a lease another environment holds. */
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 1_000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TenantLeases {
  readonly owner: string;
  readonly leaseMs: number;
  readonly #store: TenantLeaseStore;
  readonly #maxWaitMs: number;
  readonly #lingerMs: number;
  /** Renewed before this much of the lease is left (clock skew between environments, a slow write). */
  readonly #marginMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #held = new Map<string, Held>();
  /** The end of the current Lambda invocation (epoch ms): no wait for a lease runs past it. */
  #waitDeadline: number | undefined;

  constructor(options: TenantLeasesOptions) {
    this.#store = options.store;
    this.owner = options.owner ?? randomUUID();
    this.leaseMs = Math.max(1, options.leaseMs ?? 60_000);
    this.#maxWaitMs = Math.max(0, options.maxWaitMs ?? 30_000);
    this.#lingerMs = Math.max(0, options.lingerMs ?? 250);
    this.#marginMs = Math.min(5_000, this.leaseMs / 4);
    this.#onError = options.onError ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
  }

  /** Waits until this environment holds the tenant's lease; call `leave()` when the call is done. */
  async enter(tenantId: string): Promise<LeaseEntry> {
    const key = tenantId.toLowerCase();
    let held = this.#held.get(key);
    if (!held) {
      held = { users: 0, validUntil: 0, holdUntilMs: 0 };
      this.#held.set(key, held);
    }
    const h = held;
    h.users += 1;
    clearTimeout(h.releaseTimer);
    h.releaseTimer = undefined;
    try {
      // A release on its way must land before the lease is taken again.
      if (h.releasing) await h.releasing;
      while (this.#now() >= h.validUntil) {
        h.taking ??= this.#take(key, h).finally(() => {
          h.taking = undefined;
        });
        await h.taking;
      }
    } catch (err) {
      this.#leave(key, h);
      throw err;
    }
    h.renewTimer ??= unref(setInterval(() => void this.#renew(key, h), this.leaseMs / 3));
    let left = false;
    return {
      holdUntilMs: h.holdUntilMs,
      leave: () => {
        if (left) return;
        left = true;
        this.#leave(key, h);
      },
    };
  }

  /**
   * Bounds every wait for another environment's lease to `atMs` (epoch ms; undefined: no bound
   * but maxWaitMs): a Lambda invocation sets it a little before its own timeout, so that a wait
   * ends as TenantBusyError, which the workflow retries, never as the function's timeout (which
   * would spend a retry of the step and leave a lease behind).
   */
  boundWaitsBy(atMs: number | undefined): void {
    this.#waitDeadline = atMs;
  }

  /** Exchange asked the tenant's requests to wait until `untilMs`: whoever holds the lease next waits too. */
  hold(tenantId: string, untilMs: number): void {
    const h = this.#held.get(tenantId.toLowerCase());
    if (h && h.holdUntilMs < untilMs) h.holdUntilMs = untilMs;
    this.#store.hold(tenantId.toLowerCase(), untilMs).catch(this.#onError);
  }

  /**
   * Frees now every lease this environment holds with no call in flight (the end of a Lambda
   * invocation: a frozen container must not keep a tenant until its lease expires).
   */
  async releaseIdle(): Promise<void> {
    const idle = [...this.#held].filter(([, h]) => h.users === 0);
    await Promise.all(idle.map(([key, h]) => this.#release(key, h)));
  }

  /** Takes the lease, waiting for another environment's for up to maxWaitMs. */
  async #take(key: string, h: Held): Promise<void> {
    const began = this.#now();
    const deadline = Math.min(this.#now() + this.#maxWaitMs, this.#waitDeadline ?? Number.POSITIVE_INFINITY);
    for (let n = 0; ; n++) {
      const started = this.#now();
      const result = await this.#store.take(key, this.owner, started, started + this.leaseMs);
      if (result.taken) {
        h.validUntil = started + this.leaseMs - this.#marginMs;
        h.holdUntilMs = Math.max(h.holdUntilMs, result.holdUntilMs ?? 0);
        return;
      }
      const now = this.#now();
      if (now >= deadline) {
        throw new TenantBusyError(
          `Exchange requests for tenant ${key} are being sent by other work on it (another run, an offboarding or a drift check); waited ${Math.round((now - began) / 1000)} s.`,
        );
      }
      // Until the other lease expires at the latest; sooner, as its holder frees it when done.
      const backoff = (0.5 + this.#random() / 2) * Math.min(POLL_MAX_MS, POLL_FIRST_MS * 2 ** n);
      const untilExpiry = Math.max(0, result.expiresAtMs - now) + 1;
      await this.#sleep(Math.min(backoff, untilExpiry, deadline - now));
    }
  }

  /** Keeps a lease in use alive; one lost meanwhile (this environment was frozen) is taken again by the next call. */
  async #renew(key: string, h: Held): Promise<void> {
    if (h.users === 0 || h.taking || h.validUntil === 0) return;
    try {
      const started = this.#now();
      const result = await this.#store.take(key, this.owner, started, started + this.leaseMs);
      h.validUntil = result.taken ? started + this.leaseMs - this.#marginMs : 0;
    } catch (err) {
      this.#onError(err);
    }
  }

  #leave(key: string, h: Held): void {
    h.users -= 1;
    if (h.users > 0) return;
    clearInterval(h.renewTimer);
    h.renewTimer = undefined;
    if (this.#lingerMs === 0) void this.#release(key, h);
    else h.releaseTimer = unref(setTimeout(() => void this.#release(key, h), this.#lingerMs));
  }

  async #release(key: string, h: Held): Promise<void> {
    clearTimeout(h.releaseTimer);
    h.releaseTimer = undefined;
    if (h.users > 0 || h.releasing) return h.releasing;
    const wasHeld = h.validUntil > 0;
    h.validUntil = 0;
    if (!wasHeld) {
      this.#held.delete(key);
      return;
    }
    h.releasing = this.#store
      .release(key, this.owner)
      .catch(this.#onError)
      .finally(() => {
        h.releasing = undefined;
        if (h.users === 0 && this.#held.get(key) === h) this.#held.delete(key);
      });
    return h.releasing;
  }
}

function unref<T extends ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}
