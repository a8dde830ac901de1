/**
 * The tenant's Exchange lease (port): Exchange limits the requests a tenant may have in flight,
 * and a tenant's work can run in several environments at once (an onboarding task, an
 * offboarding, a drift check, each in its own Lambda container). One environment at a time
 * holds the tenant's lease and sends its requests (at most its own per-tenant cap in flight);
 * a lease not renewed is free after it expires, so a holder that died blocks the tenant only
 * that long. The lease also carries a 429's Retry-After to whoever holds it next.
 */

/** The lease as `take` found or left it. */
export type LeaseTake =
  | {
      taken: true;
      /** Until when (epoch ms) Exchange asked the tenant's requests to wait, if still ahead. */
      holdUntilMs?: number;
    }
  | {
      taken: false;
      /** When the other holder's lease expires unless renewed (epoch ms). */
      expiresAtMs: number;
    };

export interface TenantLeaseStore {
  /**
   * Takes (or renews) the tenant's lease for `owner` until `expiresAtMs`: when nobody holds it,
   * its holder's lease expired before `nowMs`, or `owner` holds it already. One conditional write.
   */
  take(tenantId: string, owner: string, nowMs: number, expiresAtMs: number): Promise<LeaseTake>;
  /** Frees the lease if `owner` still holds it (a later holder's lease is left alone). */
  release(tenantId: string, owner: string): Promise<void>;
  /** Records that Exchange asked the tenant's requests to wait until `untilMs` (a later one is kept). */
  hold(tenantId: string, untilMs: number): Promise<void>;
}
