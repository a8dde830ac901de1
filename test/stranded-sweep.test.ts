/**
 * The stranded-run sweep against the table (dynalite): an in-flight tenant with no live
 * execution is recorded INTERRUPTED with its event once it has been quiet for the threshold, not
 * before; a live run is left alone and not asked about again until its backoff; a tenant that
 * moved on meanwhile is left alone; two sweeps at once record each tenant once. The engine is a
 * small model of executions by name (the sweep's port; both real engines are exercised end to
 * end in stranded-e2e.test.ts).
 */
import { randomUUID } from "node:crypto";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoInFlightDue, enrolEarlierInFlight } from "../functions/adapters/dynamodb/in-flight-due.ts";
import { tenantKey } from "../functions/adapters/dynamodb/keys.ts";
import {
  type ExecutionDescription,
  executionName,
  type WorkflowInput,
  type WorkflowKind,
  workflowInput,
} from "../functions/domain/engine.ts";
import type { InFlightDue } from "../functions/domain/stranded-sweep.ts";
import {
  inFlightPages,
  nextLookGapMs,
  type SweepPorts,
  sweepStranded,
} from "../functions/domain/stranded-sweep.ts";
import type { OnboardingRequest } from "../functions/domain/tenant.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const AFTER = 5 * 60_000;
const T0 = Date.parse("2026-12-08T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms);

/** Executions by name: `live` ones answer RUNNING, every other is unknown; each describe is counted. */
class Executions {
  readonly consistentDescribe = true;
  readonly live = new Set<string>();
  readonly described: string[] = [];
  onDescribe: (() => Promise<void>) | undefined;
  async describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const name = executionName(kind, input);
    this.described.push(input.tenantId);
    await this.onDescribe?.();
    return this.live.has(name) ? { name, status: "RUNNING", startedAt: "" } : undefined;
  }
}

let db: FreshTable;
beforeAll(async () => {
  db = await freshTable();
});

const request = (tenantId: string): OnboardingRequest => ({
  tenantId,
  customerName: `c-${tenantId.slice(0, 8)}`,
  region: "us",
  outboundGateway: false,
  ndrAddress: "admin@contoso.example",
});

/** A tenant registered (queued, run 1) at `when` whose run was never started. */
async function queuedAt(when: Date): Promise<string> {
  const tenantId = randomUUID();
  await db.store.registerTenant("p_1", request(tenantId), when.toISOString());
  return tenantId;
}

function ports(engine: Executions, now: Date, due: InFlightDue = new DynamoInFlightDue(ctx())): SweepPorts {
  return {
    store: db.store,
    engine,
    due,
    clock: () => now,
    strandedAfterMs: AFTER,
    strandedConfirmMs: 10,
    onError: (err) => {
      throw err;
    },
  };
}
const ctx = () => ({ client: db.docClient, table: db.tableName });

describe("the stranded-run sweep", () => {
  it("records a queued tenant whose run never started INTERRUPTED, with its event, after the threshold and not before", async () => {
    const tenantId = await queuedAt(at(0));
    const engine = new Executions();
    const early = await sweepStranded(ports(engine, at(AFTER - 1000)));
    expect(early.recorded).not.toContain(tenantId);
    expect(engine.described).not.toContain(tenantId);
    expect((await db.store.getTenant(tenantId))?.tenant.status).toBe("queued");

    const late = await sweepStranded(ports(engine, at(AFTER + 1000)));
    expect(late.recorded).toContain(tenantId);
    const stored = await db.store.getTenant(tenantId);
    expect(stored?.tenant.status).toBe("failed");
    expect(stored?.tenant.error?.code).toBe("INTERRUPTED");
    const events = await db.store.listEvents(tenantId);
    const failed = events.find((e) => e.type === "tenant.onboarding.failed");
    expect(failed?.data.error?.code).toBe("INTERRUPTED");
    // Out of the index: a later sweep does not look at it again.
    engine.described.length = 0;
    await sweepStranded(ports(engine, at(10 * AFTER)));
    expect(engine.described).not.toContain(tenantId);
  });

  it("leaves a live run alone and asks about it again only after its backoff", async () => {
    const tenantId = await queuedAt(at(0));
    const engine = new Executions();
    const queued = await db.store.getTenant(tenantId);
    engine.live.add(executionName("onboarding", workflowInput(queued!)));
    await sweepStranded(ports(engine, at(AFTER + 1000)));
    expect(engine.described.filter((t) => t === tenantId)).toHaveLength(1);
    expect((await db.store.getTenant(tenantId))?.tenant.status).toBe("queued");

    // Within the backoff (twice the threshold after the first look): not asked again.
    const firstGap = nextLookGapMs(1, AFTER);
    await sweepStranded(ports(engine, at(AFTER + 1000 + firstGap - 2000)));
    expect(engine.described.filter((t) => t === tenantId)).toHaveLength(1);
    // After it: asked again, still left alone; then the gap doubles.
    await sweepStranded(ports(engine, at(AFTER + 1000 + firstGap + 1000)));
    expect(engine.described.filter((t) => t === tenantId)).toHaveLength(2);
    expect(nextLookGapMs(2, AFTER)).toBe(2 * firstGap);
    expect(nextLookGapMs(30, AFTER)).toBe(60 * 60_000);
    expect((await db.store.getTenant(tenantId))?.tenant.status).toBe("queued");
  });

  it("leaves alone a tenant that moved on after the sweep read it, or while the engine was asked", async () => {
    const engine = new Executions();
    // Moved on (its run started: running) between the index read and the claim.
    const started = await queuedAt(at(0));
    const inner = new DynamoInFlightDue(ctx());
    const racing: InFlightDue = {
      due: async (before, limit) => {
        const entries = await inner.due(before, limit);
        await db.store.transition(
          started,
          { status: "running", expectStatus: ["queued"] },
          at(AFTER).toISOString(),
        );
        return entries;
      },
      postpone: (entry, since, looks) => inner.postpone(entry, since, looks),
    };
    await sweepStranded(ports(engine, at(AFTER + 1000), racing));
    expect(engine.described).not.toContain(started);
    expect((await db.store.getTenant(started))?.tenant.status).toBe("running");

    // Moved on (its workflow recorded its outcome) while the engine was being asked.
    const finished = await queuedAt(at(0));
    engine.onDescribe = async () => {
      engine.onDescribe = undefined;
      await db.store.transition(
        finished,
        { status: "succeeded", expectStatus: ["queued"] },
        at(AFTER).toISOString(),
      );
    };
    const result = await sweepStranded(ports(engine, at(AFTER + 1000)));
    expect(engine.described).toContain(finished);
    expect(result.recorded).not.toContain(finished);
    const stored = await db.store.getTenant(finished);
    expect(stored?.tenant.status).toBe("succeeded");
    expect(stored?.tenant.error).toBeUndefined();
  });

  it("changes nothing more when a second sweep runs at the same time", async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, () => queuedAt(at(0))));
    const engine = new Executions();
    const now = at(AFTER + 60_000);
    const [a, b] = await Promise.all([sweepStranded(ports(engine, now)), sweepStranded(ports(engine, now))]);
    const recorded = [...a.recorded, ...b.recorded].filter((t) => ids.includes(t));
    expect(recorded.sort()).toEqual([...ids].sort());
    // Each tenant asked about once, and one INTERRUPTED event each.
    for (const id of ids) {
      expect(engine.described.filter((t) => t === id)).toHaveLength(1);
      const events = await db.store.listEvents(id);
      expect(events.filter((e) => e.data.error?.code === "INTERRUPTED")).toHaveLength(1);
    }
  });

  it("enrols tenants in flight from before its entries once, quiet since their last update", async () => {
    const earlier = await queuedAt(at(0));
    await db.store.transition(
      earlier,
      { status: "running", expectStatus: ["queued"] },
      at(1000).toISOString(),
    );
    // As a tenant written by the previous version: no index entry.
    await db.docClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: tenantKey(earlier),
        UpdateExpression: "REMOVE gsi5pk, gsi5sk",
      }),
    );
    const engine = new Executions();
    await sweepStranded(ports(engine, at(AFTER + 60_000)));
    expect(engine.described).not.toContain(earlier);

    const list = inFlightPages(db.store);
    while (!(await enrolEarlierInFlight(ctx(), list))) {}
    expect(await enrolEarlierInFlight(ctx(), list)).toBe(true);
    const result = await sweepStranded(ports(engine, at(AFTER + 60_000)));
    expect(result.recorded).toContain(earlier);
    expect((await db.store.getTenant(earlier))?.tenant.error?.code).toBe("INTERRUPTED");
  });
});
