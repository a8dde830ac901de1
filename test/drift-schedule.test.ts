/**
 * The drift schedule as AWS runs it: one invocation per tick, the tick named by the event's
 * `time`, against the table (dynalite) through the sparse drift index. Every tenant is checked
 * once per interval, a replayed event starts nothing twice, a missed tick is caught up, and a
 * tick reads only the tenants due in it.
 */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DynamoDriftDue } from "../functions/adapters/dynamodb/drift-due.ts";
import { tenantKey } from "../functions/adapters/dynamodb/keys.ts";
import { parseDriftInterval } from "../functions/domain/drift.ts";
import {
  DRIFT_PHASES,
  phasesOfTick,
  tenantPhase,
  tickMs,
  tickStart,
  ticksPerInterval,
} from "../functions/domain/drift-ticks.ts";
import type { DriftCheckInput } from "../functions/domain/engine.ts";
import type { OnboardingRequest } from "../functions/domain/tenant.ts";
import { runDriftTick, succeededPages } from "../functions/tasks/drift-schedule.ts";
import { TaskOutOfTimeError, withinBudget } from "../functions/tasks/time-budget.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const INTERVALS = ["30m", "1h", "2h", "6h", "1d"];
const request = (tenantId: string): OnboardingRequest => ({
  tenantId,
  customerName: "contoso",
  region: "us",
  outboundGateway: false,
  ndrAddress: "admin@contoso.example",
});

/** Drift checks asked for (the port the schedule starts them through). */
function starter() {
  const started: DriftCheckInput[] = [];
  return { started, startDriftCheck: async (input: DriftCheckInput) => void started.push(input) };
}

/** The drift index on a client that counts the items its queries return. */
function countingDue(db: FreshTable) {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint"), region: "us-east-1" });
  const read = { items: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = (await next(args)) as { output: { Items?: unknown[] } };
      if (context.commandName === "QueryCommand") read.items += result.output.Items?.length ?? 0;
      return result as never;
    },
    { step: "initialize" },
  );
  return { due: new DynamoDriftDue({ client: createDocumentClient({ client }), table: db.tableName }), read };
}

let counter = 0;
/** `n` tenants that became `succeeded` at `at` (each interval's test has its own table). */
async function succeeded(db: FreshTable, n: number, at: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const tenantId = `20000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`;
    await db.store.registerTenant("p_drift", request(tenantId), at);
    await db.store.transition(tenantId, { status: "succeeded" }, at);
    ids.push(tenantId);
  }
  return ids;
}

describe("ticks", () => {
  it.each(INTERVALS)(
    "%s: whole minutes, at most 72 per interval, every phase in exactly one tick",
    (value) => {
      const interval = parseDriftInterval(value);
      const tick = tickMs(interval);
      expect(tick % 60_000).toBe(0);
      expect(ticksPerInterval(interval)).toBeLessThanOrEqual(DRIFT_PHASES);
      const seen = Array.from({ length: DRIFT_PHASES }, () => 0);
      for (let start = 0; start < interval; start += tick)
        for (const p of phasesOfTick(start, interval)) seen[p]!++;
      expect(seen).toEqual(Array.from({ length: DRIFT_PHASES }, () => 1));
    },
  );

  it("names a tick by its start whatever second its event is delivered at", () => {
    const interval = parseDriftInterval("6h");
    const start = Date.parse("2026-03-01T10:05:00Z");
    expect(tickStart(start + 59_000, interval)).toBe(start);
    expect(tickStart(start, interval)).toBe(start);
  });
});

describe("the schedule over one interval", () => {
  it.each(INTERVALS)("%s: checks every tenant once, reading only the tenants due", async (value) => {
    const db = await freshTable();
    const interval = parseDriftInterval(value);
    const tick = tickMs(interval);
    const first = tickStart(Date.parse("2026-03-01T00:00:00Z"), interval) + tick;
    const tenants = await succeeded(db, 24, new Date(first - 30_000).toISOString());
    const { due, read } = countingDue(db);
    const s = starter();
    for (let at = first; at < first + interval; at += tick) {
      // EventBridge delivers a tick's event a few seconds into its minute; the event's time names it.
      await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at + 7_000) });
    }
    expect(s.started.map((c) => c.tenantId).sort()).toEqual([...tenants].sort());
    expect(read.items).toBe(tenants.length);
    // The execution name: tenant + tick.
    expect(new Set(s.started.map((c) => `${c.tenantId}/${c.check}`)).size).toBe(tenants.length);
    // The next interval checks each once more.
    for (let at = first + interval; at < first + 2 * interval; at += tick) {
      await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at) });
    }
    expect(s.started).toHaveLength(2 * tenants.length);
  });
});

describe("the schedule's guarantees", () => {
  let db: FreshTable;
  const interval = parseDriftInterval("6h");
  const tick = tickMs(interval);
  let tenants: string[];
  let base: number;
  beforeAll(async () => {
    db = await freshTable();
    base = tickStart(Date.parse("2026-04-01T00:00:00Z"), interval);
    tenants = await succeeded(db, 30, new Date(base - 1000).toISOString());
  });
  const tickOf = (tenantId: string) => {
    for (let at = base; ; at += tick)
      if (phasesOfTick(at, interval).includes(tenantPhase(tenantId))) return at;
  };

  it("a replayed or retried event starts nothing twice", async () => {
    const at = tickOf(tenants[0]!);
    const s = starter();
    const due = new DynamoDriftDue({ client: db.docClient, table: db.tableName });
    const once = await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at) });
    expect(once).toBeGreaterThanOrEqual(1);
    const again = await Promise.all(
      [0, 0, 0].map(() => runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at + 30_000) })),
    );
    expect(again).toEqual([0, 0, 0]);
    expect(s.started).toHaveLength(once);
  });

  it("a missed tick is caught up by the next one, named after the missed tick", async () => {
    const at = tickOf(tenants[1]!) + interval;
    const missed = tenants.filter((t) => phasesOfTick(at, interval).includes(tenantPhase(t)));
    const s = starter();
    const due = new DynamoDriftDue({ client: db.docClient, table: db.tableName });
    // The tick at `at` never ran; the next one does.
    await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at + tick) });
    const caughtUp = s.started.filter((c) => missed.includes(c.tenantId));
    expect(caughtUp.map((c) => c.tenantId).sort()).toEqual([...missed].sort());
    expect(caughtUp.every((c) => c.check === `tick-${at.toString(36)}`)).toBe(true);
  });

  it("a check that cannot start is given back, and started by the tick's retry", async () => {
    const at = tickOf(tenants[2]!) + 2 * interval;
    const due = new DynamoDriftDue({ client: db.docClient, table: db.tableName });
    const failing = { startDriftCheck: async () => Promise.reject(new Error("throttled")) };
    expect(await runDriftTick({ due, starter: failing, intervalMs: interval, at: new Date(at) })).toBe(0);
    const s = starter();
    expect(
      await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at) }),
    ).toBeGreaterThanOrEqual(1);
    expect(s.started.map((c) => c.tenantId)).toContain(tenants[2]);
  });

  it("leaves out tenants that are no longer succeeded, and enrols those from before the index", async () => {
    const [gone, earlier] = await succeeded(db, 2, new Date(base - 1000).toISOString());
    await db.store.transition(gone!, { status: "queued" }, new Date(base).toISOString());
    // An item written before the drift index existed: succeeded, without the index keys.
    await db.docClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: tenantKey(earlier!),
        UpdateExpression: "REMOVE gsi5pk, gsi5sk",
      }),
    );
    const due = new DynamoDriftDue({ client: db.docClient, table: db.tableName });
    while (!(await due.enrolEarlier(succeededPages(db.store), new Date(base).toISOString()))) {}
    const s = starter();
    for (let at = base + 3 * interval; at < base + 4 * interval; at += tick) {
      await runDriftTick({ due, starter: s, intervalMs: interval, at: new Date(at) });
    }
    const ids = s.started.map((c) => c.tenantId);
    expect(ids).toContain(earlier);
    expect(ids).not.toContain(gone);
    expect(ids.filter((id) => id === earlier)).toHaveLength(1);
  });
});

describe("a drift check that runs out of time", () => {
  it("ends its own invocation instead of running on beside a retry", async () => {
    const never = new Promise<never>(() => {});
    await expect(withinBudget(never, 20, "CheckDrift")).rejects.toBeInstanceOf(TaskOutOfTimeError);
    expect(await withinBudget(Promise.resolve(1), 1000, "CheckDrift")).toBe(1);
  });
});
