/**
 * The `sequence` a partner sees: counted from 1 for each partner that holds a tenant, so that a
 * new owner (a change of owner) learns nothing of how much happened under the previous one.
 *
 * Stored events keep one sequence per tenant across registrations: it is the key of event items
 * and webhook deliveries (never reused, not even by a new registration), and both dispatchers'
 * order gates and cursors count in it. Renumbering at write would make two registrations share
 * keys (A's 1 and B's 1) and every gate, cursor and recovery path would have to learn of
 * registrations. So we translate at read instead: a registration records an offset when it is
 * made (`sequenceOffset`: when another partner, or nobody, held the tenant before, the tenant's
 * sequence before its first event less the last sequence this partner saw of the tenant, 0 for a
 * partner new to it; the previous offset when the same partner registers again), every event
 * carries its registration's offset, and what a partner is shown (the events API, webhook bodies,
 * the deliveries list) is `sequence - offset`: 1, 2, 3 ... with no gap, in the same order as the
 * stored sequence, and a partner that gets a tenant back continues where it stopped.
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

/** What a registration needs of the tenant's record before it. */
export interface PreviousRecord {
  partnerId: string;
  seq?: number;
  sequenceOffset?: number;
  /** Per partner that held the tenant before: the last sequence it saw. */
  partnerSequences?: Record<string, number>;
}

/**
 * Where a new registration of `partnerId` counts from. The same partner again: it keeps
 * counting (`samePartner`). Another partner: it continues after the last sequence it saw of this
 * tenant (`seen`, 0 for a partner new to it), so a partner that gets a tenant back neither sees
 * a number twice nor learns how much happened meanwhile; the previous partner's last sequence
 * is remembered (`partnerSequences`) for when it comes back.
 */
export function registrationCount(
  previous: PreviousRecord | undefined,
  partnerId: string,
): { samePartner: boolean; seen: number; partnerSequences: Record<string, number> } {
  if (!previous) return { samePartner: false, seen: 0, partnerSequences: {} };
  const partnerSequences = { ...previous.partnerSequences };
  if (previous.partnerId === partnerId) return { samePartner: true, seen: 0, partnerSequences };
  partnerSequences[previous.partnerId] = (previous.seq ?? 0) - (previous.sequenceOffset ?? 0);
  return { samePartner: false, seen: partnerSequences[partnerId] ?? 0, partnerSequences };
}
