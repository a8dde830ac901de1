/**
 * The `sequence` a partner sees: counted from 1 for each partner that holds a tenant, so that a
 * new owner (a change of owner) learns nothing of how much happened under the previous one.
 *
 * Stored events keep one sequence per tenant across registrations: it is the key of event items
 * and webhook deliveries (never reused, not even by a new registration), and both dispatchers'
 * order gates and cursors count in it. Renumbering at write would make two registrations share
 * keys (A's 1 and B's 1) and every gate, cursor and recovery path would have to learn of
 * registrations. So we translate at read instead: a registration records an offset when it is
 * made (`sequenceOffset`: the tenant's sequence before its first event when another partner, or
 * nobody, held the tenant before; the previous offset when the same partner registers again, so
 * its sequence keeps increasing), every event carries its registration's offset, and what a
 * partner is shown (the events API, webhook bodies, the deliveries list) is `sequence - offset`:
 * 1, 2, 3 ... with no gap, in the same order as the stored sequence.
 */
import type { TenantEvent } from "./tenant.ts";

/** The sequence the partner sees of a stored event. */
export function partnerSequence(event: Pick<TenantEvent, "data" | "sequenceOffset">): number {
  return event.data.sequence - (event.sequenceOffset ?? 0);
}

/** The event as a partner sees it (its sequence counted in its registration; no offset). */
export function partnerEvent(event: TenantEvent): TenantEvent {
  const { sequenceOffset: _offset, ...rest } = event;
  return { ...rest, data: { ...event.data, sequence: partnerSequence(event) } };
}
