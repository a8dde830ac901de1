/**
 * The most Exchange requests a tenant had in flight at once, read from the simulator's call log
 * (`calls()`, `GET /_sim/calls`): each accepted InvokeCommand records how many of its tenant's
 * requests were in flight once it entered, itself included.
 */
import type { SimCall } from "./types.ts";

export interface InFlightPeaks {
  /** The highest over every tenant (0 when no request was accepted). */
  max: number;
  /** Per tenant id (lower case). */
  byTenant: Map<string, number>;
}

export function maxInFlight(calls: readonly SimCall[]): InFlightPeaks {
  const byTenant = new Map<string, number>();
  let max = 0;
  for (const call of calls) {
    if (call.inFlight === undefined) continue;
    if (call.inFlight > (byTenant.get(call.tenantId) ?? 0)) byTenant.set(call.tenantId, call.inFlight);
    if (call.inFlight > max) max = call.inFlight;
  }
  return { max, byTenant };
}
