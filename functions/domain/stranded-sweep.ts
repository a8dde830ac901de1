/**
 * The stranded-run sweep: the service itself notices a tenant that says a workflow holds it
 * (`queued`, `running`, `offboarding`) while the engine has no live execution of its run (the
 * API died between registering the run and starting it, StartExecution's answer was lost, an
 * execution ended and the event that should have recorded it never came), and records it
 * `failed` (or `offboarding_failed`) with INTERRUPTED and its event, so that the partner's
 * webhook hears of it and a retry finishes it. Nobody has to call the API.
 *
 * It reads only in-flight tenants whose status has not changed for `strandedAfterMs`, a page at
 * a time (`InFlightDue`), claims each by moving its next look out (a conditional write: a
 * concurrent or replayed sweep skips it), then judges it as a retry does (`settleStranded`:
 * a run younger than STRANDED_SETTLED_MS is looked at twice, DescribeExecution being eventually
 * consistent; the record is guarded by the run). A run found alive is looked at again later and
 * later (a run may hold a tenant for ~48 h while Exchange hydrates): twice the threshold, then
 * doubling, at most an hour apart.
 */
import { InvalidCursorError } from "./errors.ts";
import type { StoredTenant, TenantStore } from "./store.ts";
import type { TenantStatus } from "./tenant.ts";
import { IN_FLIGHT, STRANDED_SETTLED_MS, type StrandedPorts, settleStranded } from "./workflow-runs.ts";

/** An in-flight tenant's place in the sweep: since when it is quiet, and how often it was looked at. */
export interface InFlightEntry {
  tenantId: string;
  /** Where the entry was read (the claim is conditional on it). */
  position: string;
  looks: number;
}

/** The in-flight tenants, by how long they have been quiet (the table's sparse index). */
export interface InFlightDue {
  /** Up to `limit` entries quiet since before `before` (an ISO time), oldest first. */
  due(before: string, limit: number): Promise<InFlightEntry[]>;
  /** Moves the entry to quiet `since` with `looks`, if it is still where it was read. */
  postpone(entry: InFlightEntry, since: string, looks: number): Promise<boolean>;
}

/** Tenants one sweep looks at, at most. */
export const SWEEP_PAGE = 200;
/** How many of them are judged at once (a young run's second look waits a few seconds). */
const AT_ONCE = 20;
/** The longest time between two looks at a live run. */
export const MAX_LOOK_GAP_MS = 60 * 60_000;

/** Time from the `looks`-th look at a live run to the next: 2, 4, 8... thresholds, at most an hour. */
export function nextLookGapMs(looks: number, strandedAfterMs: number): number {
  return Math.max(strandedAfterMs, Math.min(strandedAfterMs * 2 ** Math.min(looks, 20), MAX_LOOK_GAP_MS));
}

export interface SweepPorts extends StrandedPorts {
  due: InFlightDue;
  /** A tenant quiet this long in an in-flight status is looked at. @default STRANDED_SETTLED_MS */
  strandedAfterMs: number;
  /** @default SWEEP_PAGE */
  limit?: number;
  onError?: (err: unknown, tenantId: string) => void;
}

export interface SweepResult {
  /** Tenants whose run the engine was asked about. */
  looked: number;
  /** Tenants recorded as failed with INTERRUPTED. */
  recorded: string[];
}

/** One sweep: a page of tenants quiet long enough, each judged once; returns what it did. */
export async function sweepStranded(ports: SweepPorts): Promise<SweepResult> {
  const now = ports.clock().getTime();
  const before = new Date(now - ports.strandedAfterMs).toISOString();
  const entries = await ports.due.due(before, ports.limit ?? SWEEP_PAGE);
  const result: SweepResult = { looked: 0, recorded: [] };
  for (let i = 0; i < entries.length; i += AT_ONCE) {
    await Promise.all(
      entries.slice(i, i + AT_ONCE).map(async (entry) => {
        try {
          await judge(ports, entry, now, result);
        } catch (err) {
          ports.onError?.(err, entry.tenantId);
        }
      }),
    );
  }
  return result;
}

async function judge(ports: SweepPorts, entry: InFlightEntry, now: number, result: SweepResult) {
  // Claimed first: the next look moves out before the engine is asked, so a concurrent sweep
  // skips this tenant, and a sweep that dies here looks again after the backoff.
  const looks = entry.looks + 1;
  const next = now + nextLookGapMs(looks, ports.strandedAfterMs) - ports.strandedAfterMs;
  if (!(await ports.due.postpone(entry, new Date(next).toISOString(), looks))) return;
  const stored = await ports.store.getTenant(entry.tenantId, { groups: false });
  if (!stored || !IN_FLIGHT[stored.tenant.status]) return;
  result.looked++;
  const settled: StoredTenant = await settleStranded(ports, stored);
  if (
    settled.tenant.status !== stored.tenant.status &&
    settled.internals.run === stored.internals.run &&
    settled.tenant.error?.code === "INTERRUPTED"
  ) {
    result.recorded.push(entry.tenantId);
  }
}

/** `STRANDED_AFTER_SECONDS` (a whole number of seconds, at least 1), else STRANDED_SETTLED_MS. */
export function strandedAfterMsOf(seconds: string | undefined): number {
  if (seconds === undefined || seconds.trim() === "") return STRANDED_SETTLED_MS;
  const n = Number(seconds);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`STRANDED_AFTER_SECONDS must be a whole number of seconds >= 1; got "${seconds}"`);
  }
  return n * 1000;
}

const IN_FLIGHT_STATUSES = Object.keys(IN_FLIGHT) as TenantStatus[];

/**
 * In-flight tenants a page at a time, each status in turn (the cursor: `<status index>:<list
 * cursor>`), for enrolling those from before the sweep's entries. A cursor that no longer reads
 * starts that status's listing again: enrolling is idempotent.
 */
export function inFlightPages(store: Pick<TenantStore, "listTenants">) {
  return async (cursor?: string) => {
    const [indexText = "0", ...rest] = (cursor ?? "0:").split(":");
    const index = Number(indexText) || 0;
    const status = IN_FLIGHT_STATUSES[index] ?? "queued";
    const from = rest.join(":");
    const list = (c?: string) =>
      store.listTenants({ status, limit: 100, ...(c !== undefined && c !== "" && { cursor: c }) });
    const page = await list(from).catch((err: unknown) => {
      if (from === "" || !(err instanceof InvalidCursorError)) throw err;
      return list();
    });
    const next = page.nextCursor
      ? `${index}:${page.nextCursor}`
      : index + 1 < IN_FLIGHT_STATUSES.length
        ? `${index + 1}:`
        : undefined;
    return {
      tenants: page.items.map((t) => ({ tenantId: t.tenantId, status: t.status, updatedAt: t.updatedAt })),
      ...(next !== undefined && { nextCursor: next }),
    };
  };
}
