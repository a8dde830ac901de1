/**
 * A "stranded" verdict (a tenant whose workflow holds it while the engine has no live
 * execution) must survive Step Functions' eventually consistent DescribeExecution: an execution
 * started a moment ago may not be found yet. The engine here answers as DescribeExecution can
 * (this is the one fault no real local part produces); the store is the real one.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type {
  ExecutionDescription,
  WorkflowEngine,
  WorkflowInput,
  WorkflowKind,
} from "../functions/domain/engine.ts";
import { OnboardingService } from "../functions/domain/onboarding.ts";
import { STRANDED_SETTLED_MS } from "../functions/domain/workflow-runs.ts";
import { onboardingBody } from "./support/api.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

/** Answers each describe from a script (then the last answer again); starts are recorded. */
class EventuallyConsistentEngine implements WorkflowEngine {
  readonly describes: (ExecutionDescription | undefined)[] = [];
  starts = 0;
  readonly answers: ("missing" | "RUNNING" | "FAILED")[];
  constructor(answers: ("missing" | "RUNNING" | "FAILED")[]) {
    this.answers = answers;
  }
  async start(): Promise<void> {
    this.starts++;
  }
  async describe(_kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const answer = this.answers[Math.min(this.describes.length, this.answers.length - 1)]!;
    const out =
      answer === "missing"
        ? undefined
        : { name: `on-${input.tenantId}-${input.run}`, status: answer, startedAt: "" };
    this.describes.push(out);
    return out;
  }
}

let table: FreshTable;
beforeAll(async () => {
  table = await freshTable();
});

async function queuedTenant(now = new Date()): Promise<string> {
  const tenantId = randomUUID();
  await table.store.registerTenant(
    "p_1",
    { ...onboardingBody(tenantId), outboundGateway: false } as never,
    now.toISOString(),
  );
  return tenantId;
}

describe("a stranded verdict", () => {
  it("is not given when a second look finds the execution running (it was just not visible yet)", async () => {
    const tenantId = await queuedTenant();
    const engine = new EventuallyConsistentEngine(["missing", "RUNNING"]);
    const service = new OnboardingService({ store: table.store, engine, strandedConfirmMs: 10 });
    await expect(service.retry({ role: "ops" }, tenantId)).rejects.toThrow(/can be retried only when/);
    expect(engine.describes).toHaveLength(2);
    const stored = await table.store.getTenant(tenantId);
    expect(stored?.tenant.status).toBe("queued");
    expect(stored?.tenant.error).toBeUndefined();
    expect(engine.starts).toBe(0);
  });

  it("is given when two looks some time apart find no running execution", async () => {
    const tenantId = await queuedTenant();
    const engine = new EventuallyConsistentEngine(["missing", "missing"]);
    const service = new OnboardingService({ store: table.store, engine, strandedConfirmMs: 10 });
    const retried = await service.retry({ role: "ops" }, tenantId);
    expect(retried.status).toBe("queued");
    expect(engine.describes).toHaveLength(2);
    expect(engine.starts).toBe(1);
    const events = await table.store.listEvents(tenantId);
    expect(events[0]?.data.error?.code).toBe("INTERRUPTED");
  });

  it("takes one look when the tenant has not changed for a while", async () => {
    const tenantId = await queuedTenant(new Date(Date.now() - STRANDED_SETTLED_MS - 1000));
    const engine = new EventuallyConsistentEngine(["FAILED"]);
    const service = new OnboardingService({ store: table.store, engine, strandedConfirmMs: 60_000 });
    expect((await service.retry({ role: "ops" }, tenantId)).status).toBe("queued");
    expect(engine.describes).toHaveLength(1);
  });
});
