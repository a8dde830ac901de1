/**
 * The arithmetic of the drift check schedule. Every tenant has a fixed phase (a hash of its id,
 * 0..DRIFT_PHASES-1) written on its item while it is `succeeded` (the sparse drift index), so
 * the store needs no interval to write it. The interval is cut into ticks of a whole number of
 * minutes (EventBridge fires at most once a minute, on minute boundaries): as many ticks as
 * possible up to DRIFT_PHASES, each taking its share of the phases. Tick times are whole
 * multiples of the tick since the epoch, so a scheduled event's `time` names its tick whatever
 * second it was delivered at, and every phase comes up once per interval.
 */
import { createHash } from "node:crypto";

/** Phases of the fleet (6 hours: one tick of 5 minutes per phase). */
export const DRIFT_PHASES = 72;

/** A tenant's phase (0..DRIFT_PHASES-1): stable, evenly spread. */
export function tenantPhase(tenantId: string): number {
  return createHash("sha256").update(tenantId).digest().readUInt32BE(0) % DRIFT_PHASES;
}

/** The unit a tick is a whole number of: a minute (seconds only for sub-minute local intervals). */
const unitOf = (intervalMs: number) => (intervalMs % 60_000 === 0 ? 60_000 : 1_000);

/**
 * Ticks per interval: the most, up to DRIFT_PHASES, that cut the interval into whole minutes
 * (30m: 30 of 1 minute, 2h: 60 of 2, 6h: 72 of 5, 1d: 72 of 20).
 */
export function ticksPerInterval(intervalMs: number): number {
  const unit = unitOf(intervalMs);
  const units = intervalMs / unit;
  if (!Number.isInteger(units) || units < 1) throw new RangeError(`no drift ticks in ${intervalMs} ms`);
  for (let n = Math.min(DRIFT_PHASES, units); n > 1; n--) if (units % n === 0) return n;
  return 1;
}

/** How long one tick is. */
export function tickMs(intervalMs: number): number {
  return intervalMs / ticksPerInterval(intervalMs);
}

/** The start of the tick a time falls in. */
export function tickStart(timeMs: number, intervalMs: number): number {
  const tick = tickMs(intervalMs);
  return Math.floor(timeMs / tick) * tick;
}

/** The phases due at the tick starting at `tickStartMs`. */
export function phasesOfTick(tickStartMs: number, intervalMs: number): number[] {
  const n = ticksPerInterval(intervalMs);
  const j = Math.round(tickStartMs / tickMs(intervalMs)) % n;
  const first = Math.ceil((j * DRIFT_PHASES) / n);
  const end = Math.ceil(((j + 1) * DRIFT_PHASES) / n);
  return Array.from({ length: end - first }, (_, i) => first + i);
}

/** The first tick at or after `afterMs` in which the tenant is due. */
export function nextTickOf(tenantId: string, intervalMs: number, afterMs: number): number {
  const phase = tenantPhase(tenantId);
  const tick = tickMs(intervalMs);
  let start = tickStart(afterMs, intervalMs);
  if (start < afterMs) start += tick;
  while (!phasesOfTick(start, intervalMs).includes(phase)) start += tick;
  return start;
}

/** A tenant due in a tick, with the sort key it had (to put back if its check cannot start). */
export interface DueTenant {
  tenantId: string;
  since: string;
}

/** The schedule's view of the table (the port `runDriftTick` uses). */
export interface DriftDue {
  /** Tenants of `phase` not claimed for a tick at or after `tick` (ISO time). */
  due(phase: number, tick: string): Promise<DueTenant[]>;
  /** Claims the tenant for `tick`; false when another claimed it first or it is no longer `succeeded`. */
  claim(tenant: DueTenant, tick: string): Promise<boolean>;
  /** Gives a claim back (its check could not be started). */
  release(tenant: DueTenant, tick: string): Promise<void>;
}
