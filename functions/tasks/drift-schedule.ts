/**
 * The drift check schedule, spread over the interval: the interval is cut into TICKS_PER_INTERVAL
 * ticks, each tenant has a fixed tick (a hash of its id), and every tick starts the checks of the
 * `succeeded` tenants whose tick it is, paced over the tick. So every tenant is checked once per
 * interval and the fleet is never checked all at once: 100,000 tenants every 6 hours are 72 ticks
 * of 5 minutes, about 1,390 checks per tick, 4.6 per second.
 *
 * The same code runs in the local runtime's timer and in the AWS fan-out function (EventBridge
 * Scheduler invokes it once per tick).
 */
import { createHash } from "node:crypto";
import { newCheckId } from "../domain/drift-service.ts";
import type { DriftCheckStarter } from "../domain/engine.ts";
import type { TenantStore } from "../domain/store.ts";

/** Ticks per interval (6 hours: one tick every 5 minutes). */
export const TICKS_PER_INTERVAL = 72;

/** How long one tick is for an interval (at least a second). */
export function tickMs(intervalMs: number): number {
  return Math.max(1_000, Math.floor(intervalMs / TICKS_PER_INTERVAL));
}

/** The tick (0..TICKS_PER_INTERVAL-1) of a tenant: stable, evenly spread. */
export function tenantTick(tenantId: string): number {
  return createHash("sha256").update(tenantId).digest().readUInt32BE(0) % TICKS_PER_INTERVAL;
}

/** The tick a time falls in. */
export function tickAt(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / tickMs(intervalMs)) % TICKS_PER_INTERVAL;
}

export interface DriftTickOptions {
  store: Pick<TenantStore, "listTenants">;
  starter: DriftCheckStarter;
  intervalMs: number;
  now?: () => Date;
  /** Spreads the starts over this long (the AWS fan-out: most of a tick). @default 0: all at once */
  spreadMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onError?: (err: unknown, tenantId: string) => void;
}

/** Starts the checks of this tick's tenants; returns how many were started. */
export async function runDriftTick(options: DriftTickOptions): Promise<number> {
  const now = options.now ?? (() => new Date());
  const tick = tickAt(now().getTime(), options.intervalMs);
  const due: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await options.store.listTenants({
      status: "succeeded",
      limit: 100,
      ...(cursor !== undefined && { cursor }),
    });
    for (const t of page.items) if (tenantTick(t.tenantId) === tick) due.push(t.tenantId);
    cursor = page.nextCursor;
  } while (cursor);
  const pause = due.length > 1 && options.spreadMs ? options.spreadMs / due.length : 0;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let started = 0;
  for (const tenantId of due) {
    try {
      await options.starter.startDriftCheck({ tenantId, run: 0, check: newCheckId(now()) });
      started++;
    } catch (err) {
      options.onError?.(err, tenantId);
    }
    if (pause > 0) await sleep(pause);
  }
  return started;
}
