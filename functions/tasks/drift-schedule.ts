/**
 * The drift check schedule, spread over the interval: each tenant has a fixed phase, the interval
 * is cut into ticks of whole minutes (`functions/domain/drift-ticks.ts`), and each tick starts the
 * checks of the `succeeded` tenants of its phases, paced over the tick. Every tenant is checked
 * once per interval and the fleet is never checked all at once: 100,000 tenants every 6 hours
 * are 72 ticks of 5 minutes, about 1,390 checks per tick, 4.6 per second.
 *
 * A tick reads only its own tenants (the sparse drift index), claims each before starting its
 * check (a replayed or retried tick starts nothing twice) and also looks at the few ticks before
 * it, so a tick that never ran (the schedule was late or its invocation failed) is caught up.
 * The check's execution is named after the tenant and the tick.
 *
 * The same code runs in the local runtime's timer and in the AWS fan-out function (an
 * EventBridge schedule invokes it once per tick, with the tick's time in the event).
 */
import { type DriftDue, type DueTenant, phasesOfTick, tickMs, tickStart } from "../domain/drift-ticks.ts";
import type { DriftCheckStarter } from "../domain/engine.ts";
import { InvalidCursorError } from "../domain/errors.ts";
import type { TenantStore } from "../domain/store.ts";

/** Earlier ticks each tick looks at for tenants a missed tick left unchecked. */
export const CATCH_UP_TICKS = 3;

export interface DriftTickOptions {
  due: DriftDue;
  starter: DriftCheckStarter;
  intervalMs: number;
  /** The tick's scheduled time (the schedule event's `time`), not when it is delivered. */
  at: Date;
  /** Spreads the starts over this long (the AWS fan-out: most of a tick). @default 0: all at once */
  spreadMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onError?: (err: unknown, tenantId: string) => void;
}

/** The check id of a tenant's scheduled check in a tick: its execution is named after it. */
export const tickCheckId = (tickStartMs: number) => `tick-${tickStartMs.toString(36)}`;

/** Starts the checks due in this tick and the unchecked ones of the ticks before; returns how many started. */
export async function runDriftTick(options: DriftTickOptions): Promise<number> {
  const tick = tickMs(options.intervalMs);
  const current = tickStart(options.at.getTime(), options.intervalMs);
  const due: { tenant: DueTenant; tickAt: number }[] = [];
  for (let back = CATCH_UP_TICKS; back >= 0; back--) {
    const tickAt = current - back * tick;
    const iso = new Date(tickAt).toISOString();
    for (const phase of phasesOfTick(tickAt, options.intervalMs)) {
      for (const tenant of await options.due.due(phase, iso)) due.push({ tenant, tickAt });
    }
  }
  const pause = due.length > 1 && options.spreadMs ? options.spreadMs / due.length : 0;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let started = 0;
  for (const { tenant, tickAt } of due) {
    const iso = new Date(tickAt).toISOString();
    try {
      if (!(await options.due.claim(tenant, iso))) continue;
      const check = tickCheckId(tickAt);
      await options.starter
        .startDriftCheck({ tenantId: tenant.tenantId, run: 0, check })
        .catch(async (err) => {
          await options.due.release(tenant, iso).catch(() => undefined);
          throw err;
        });
      started++;
    } catch (err) {
      options.onError?.(err, tenant.tenantId);
    }
    if (pause > 0) await sleep(pause);
  }
  return started;
}

/**
 * `succeeded` tenants a page at a time, for enrolling those from before the drift index. A cursor
 * that no longer reads (its signing key changed) starts the listing again: enrolling is idempotent.
 */
export function succeededPages(store: Pick<TenantStore, "listTenants">) {
  return async (cursor?: string): Promise<{ tenantIds: string[]; nextCursor?: string }> => {
    const list = (from?: string) =>
      store.listTenants({ status: "succeeded", limit: 100, ...(from !== undefined && { cursor: from }) });
    const page = await list(cursor).catch((err: unknown) => {
      if (cursor === undefined || !(err instanceof InvalidCursorError)) throw err;
      return list();
    });
    return {
      tenantIds: page.items.map((t) => t.tenantId),
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
    };
  };
}
