/**
 * The per-tenant cap on Exchange requests in flight holds across environments: several Exchange
 * clients (as several Lambda containers have, each with its own in-process cap) working on the
 * same tenant at once take the tenant's lease on the same table (dynalite over HTTP) before they
 * send, so the simulator never sees more than the cap in flight; without the lease it does. A
 * holder that died blocks the tenant only until its lease expires, and a 429's Retry-After
 * reaches the next holder. Against the HTTPS simulator.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoTenantLeaseStore } from "../functions/adapters/dynamodb/tenant-lease-store.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { TenantLeases, type TenantLeasesOptions } from "../functions/adapters/m365/tenant-leases.ts";
import { ErrorName, TenantBusyError, ThrottledError } from "../functions/domain/errors.ts";
import type { M365Gateway } from "../functions/domain/m365.ts";
import { maxInFlight, type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { localTenantLeases } from "../infra/local/tenant-leases.ts";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  taskStates,
  WORKFLOW_RETRIED_ERRORS,
} from "../workflows/definition.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";
import { caught } from "./support/m365.ts";

const CAP = 3;
let sim: Simulator;
let table: FreshTable;
let leaseStore: DynamoTenantLeaseStore;

beforeAll(async () => {
  table = await freshTable();
  leaseStore = new DynamoTenantLeaseStore({ client: table.docClient, tableName: table.tableName });
  // Latency keeps requests in flight long enough to overlap.
  sim = await startSimulator({ latencyMs: 40 });
});
afterAll(async () => {
  await sim?.close();
});

/** One environment (a Lambda container): its own gateway, Exchange client and cap, and its own lease owner. */
function environment(
  lease: boolean | Partial<TenantLeasesOptions>,
  retry = { baseDelayMs: 5, maxDelayMs: 2_000 },
): { m365: M365Gateway; leases?: TenantLeases } {
  const leases = lease
    ? new TenantLeases({ store: leaseStore, ...(typeof lease === "object" ? lease : {}) })
    : undefined;
  const m365 = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    retry,
    maxConcurrentPerTenant: CAP,
    ...(leases ? { lease: leases } : {}),
  });
  return { m365, ...(leases ? { leases } : {}) };
}

/** Every environment sends `each` reads to the tenant at once. */
async function burst(envs: { m365: M365Gateway }[], tenantId: string, each: number): Promise<void> {
  await Promise.all(
    envs.flatMap(({ m365 }) =>
      Array.from({ length: each }, (_, i) =>
        i % 2 === 0
          ? m365.tenant(tenantId).exchange.getAcceptedDomains()
          : m365.tenant(tenantId).exchange.getTransportConfig(),
      ),
    ),
  );
}

/** Waits until `check` holds (10 s at most: a loaded machine is slow, a count of polls is not time). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("the awaited condition never held");
    await new Promise((r) => setTimeout(r, 2));
  }
}

const peak = (tenantId: string) => maxInFlight(sim.calls(tenantId)).max;

describe("Exchange requests in flight per tenant, across environments", () => {
  it("without a shared lease, three environments exceed the cap (each keeps only its own)", async () => {
    const tenantId = randomUUID();
    await burst([environment(false), environment(false), environment(false)], tenantId, 6);
    expect(peak(tenantId)).toBeGreaterThan(CAP);
  });

  it("with the lease on the shared table, never more than the cap, and every call answered", async () => {
    const tenantId = randomUUID();
    const envs = [environment(true), environment(true), environment(true)];
    await burst(envs, tenantId, 6);
    const calls = sim.calls(tenantId).filter((c) => c.service === "exchange");
    expect(calls.filter((c) => c.inFlight !== undefined)).toHaveLength(18);
    expect(peak(tenantId)).toBeLessThanOrEqual(CAP);
    for (const env of envs) await env.leases!.releaseIdle();
  });
});

describe("a holder that is alive", () => {
  it("keeps its lease through a request longer than the lease time (renewed), so nobody takes it over", async () => {
    const tenantId = randomUUID();
    const a = environment({ leaseMs: 900 });
    const b = environment({ leaseMs: 900, maxWaitMs: 10_000 });
    sim.configure({ slowCmdlets: { "Get-TransportConfig": 2_500 } });
    try {
      const slow = a.m365.tenant(tenantId).exchange.getTransportConfig();
      await until(() => sim.calls(tenantId).some((c) => c.operation === "Get-TransportConfig"));
      await b.m365.tenant(tenantId).exchange.getAcceptedDomains();
      await slow;
    } finally {
      sim.configure({ slowCmdlets: {} });
    }
    const [first, second] = sim.calls(tenantId).filter((c) => c.service === "exchange");
    expect([first!.operation, second!.operation]).toEqual(["Get-TransportConfig", "Get-AcceptedDomain"]);
    expect(second!.at).toBeGreaterThanOrEqual(first!.at + 2_500);
    for (const env of [a, b]) await env.leases!.releaseIdle();
  });
});

describe("a holder that died", () => {
  it("blocks the tenant only until its lease expires", async () => {
    const tenantId = randomUUID();
    // What a container killed mid-task leaves: its lease, never released nor renewed.
    const diedAt = Date.now();
    expect((await leaseStore.take(tenantId, "dead-container", diedAt, diedAt + 1_500)).taken).toBe(true);
    const { m365, leases } = environment({ maxWaitMs: 10_000 });
    await m365.tenant(tenantId).exchange.getAcceptedDomains();
    const sent = sim.calls(tenantId).find((c) => c.service === "exchange")!;
    expect(sent.at).toBeGreaterThanOrEqual(diedAt + 1_500 - 50);
    expect(sent.at).toBeLessThan(diedAt + 1_500 + 2_500);
    await leases!.releaseIdle();
  });

  it("a wait longer than the environment's bound fails with TenantBusyError, nothing sent", async () => {
    const tenantId = randomUUID();
    const now = Date.now();
    await leaseStore.take(tenantId, "dead-container", now, now + 60_000);
    const { m365 } = environment({ maxWaitMs: 300 });
    const error = await caught(m365.tenant(tenantId).exchange.getAcceptedDomains());
    expect(error).toBeInstanceOf(TenantBusyError);
    expect(error.name).toBe("TenantBusyError");
    expect(sim.calls(tenantId).filter((c) => c.service === "exchange")).toEqual([]);
  });
});

describe("a wait within one Lambda invocation", () => {
  it("ends as TenantBusyError by the invocation's bound, long before maxWaitMs (never as the function's timeout)", async () => {
    const tenantId = randomUUID();
    const now = Date.now();
    await leaseStore.take(tenantId, "timed-out-container", now, now + 60_000);
    const { m365, leases } = environment({ maxWaitMs: 30_000 });
    leases!.boundWaitsBy(Date.now() + 400);
    const started = Date.now();
    const error = await caught(m365.tenant(tenantId).exchange.getAcceptedDomains());
    expect(error).toBeInstanceOf(TenantBusyError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(sim.calls(tenantId).filter((c) => c.service === "exchange")).toEqual([]);
    // The next invocation has no bound but its own.
    leases!.boundWaitsBy(undefined);
  });

  it("a TenantBusyError the workflow caught after its retries is TENANT_BUSY, not an internal error; every named error has its code", async () => {
    const { caughtToErrorInfo } = await import("../functions/tasks/caught-error.ts");
    const busy = caughtToErrorInfo({
      Error: ErrorName.TenantBusy,
      Cause: JSON.stringify({ errorType: ErrorName.TenantBusy, errorMessage: "waited 30 s." }),
    });
    expect(busy.code).toBe("TENANT_BUSY");
    // StepFailedError wraps a step's own error (its code is the step's): the others map to themselves.
    const unmapped = Object.values(ErrorName).filter(
      (name) =>
        name !== ErrorName.StepFailed &&
        caughtToErrorInfo({ Error: name, Cause: "x" }).code === "INTERNAL_ERROR",
    );
    expect(unmapped).toEqual([]);
  });
});

describe("the local service", () => {
  it("restarted on the same DATA_DIR takes its own leases back at once; another service cannot", async () => {
    const tenantId = randomUUID();
    // The service that was killed while it held the tenant: its lease stays.
    const killed = localTenantLeases(table.docClient, table.tableName, "/srv/a/.data");
    const held = await killed.enter(tenantId);
    const restarted = localTenantLeases(table.docClient, table.tableName, "/srv/a/.data");
    const startedAt = Date.now();
    const entry = await restarted.enter(tenantId);
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    const now = Date.now();
    const elsewhere = localTenantLeases(table.docClient, table.tableName, "/srv/b/.data");
    expect(await leaseStore.take(tenantId, elsewhere.owner, now, now + 1_000)).toMatchObject({
      taken: false,
    });
    for (const e of [held, entry]) e.leave();
    await Promise.all([killed.releaseIdle(), restarted.releaseIdle()]);
  });
});

describe("a 429's Retry-After", () => {
  it("holds the next environment that takes the lease, not only the one that was answered 429", async () => {
    const tenantId = randomUUID();
    // Environment A gives up at once on a long Retry-After (the workflow would retry it later).
    const a = environment({ lingerMs: 0 }, { baseDelayMs: 5, maxDelayMs: 100 });
    const b = environment({ lingerMs: 0 }, { baseDelayMs: 5, maxDelayMs: 5_000 });
    await a.m365.tenant(tenantId).exchange.getAcceptedDomains();
    await b.m365.tenant(tenantId).exchange.getAcceptedDomains();
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 2 });
    expect(await caught(a.m365.tenant(tenantId).exchange.getTransportConfig())).toBeInstanceOf(
      ThrottledError,
    );
    const refused = sim.calls(tenantId).find((c) => c.status === 429)!;
    await a.leases!.releaseIdle();
    await b.m365.tenant(tenantId).exchange.getAcceptedDomains();
    const next = sim.calls(tenantId).filter((c) => c.seq > refused.seq);
    expect(next.map((c) => c.operation)).toEqual(["Get-AcceptedDomain"]);
    expect(next[0]!.at).toBeGreaterThanOrEqual(refused.at + 2_000 - 100);
    await b.leases!.releaseIdle();
  });
});

describe("the workflows", () => {
  it("retry TenantBusyError in every Task state that talks to Microsoft 365", () => {
    const m365Tasks = [
      "HandOver",
      "CheckAccess",
      "RecheckPermissions",
      "Configure",
      "Journal",
      "Offboard",
      "CheckDrift",
    ];
    const machines = [
      onboardingDefinition(() => "arn"),
      offboardingDefinition(() => "arn"),
      driftCheckDefinition(() => "arn"),
    ];
    const states = machines.flatMap((m) => taskStates(m));
    for (const name of m365Tasks) {
      const matching = states.filter((s) => s.parameters["task"] === name);
      expect(matching.length, name).toBeGreaterThan(0);
      for (const s of matching) {
        const errors = s.retry.flatMap((r) => r["ErrorEquals"] as string[]);
        expect(errors, `${s.state} (${name})`).toContain(ErrorName.TenantBusy);
      }
    }
    expect(WORKFLOW_RETRIED_ERRORS.has(ErrorName.TenantBusy)).toBe(true);
  });
});
