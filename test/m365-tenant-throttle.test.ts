/**
 * A 429 is about the tenant, not the call: after Exchange answers one call 429 with Retry-After,
 * no other request to that tenant leaves this process until that time has passed; other tenants
 * are not held. Against the HTTPS simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import type { M365CallEvent } from "../functions/adapters/m365/retry.ts";
import { ThrottledError } from "../functions/domain/errors.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { caught } from "./support/m365.ts";

let sim: Simulator;
let m365: ReturnType<typeof createM365Gateway>;
const events: M365CallEvent[] = [];
beforeAll(async () => {
  sim = await startSimulator();
  m365 = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    retry: { baseDelayMs: 1, maxDelayMs: 2_000 },
    onCall: (event) => events.push(event),
  });
});
afterAll(async () => {
  await sim?.close();
});

const exchangeCalls = (tenantId: string) => sim.calls(tenantId).filter((c) => c.service === "exchange");

/** Waits until `check` holds (10 s at most: a loaded machine is slow, a count of polls is not time). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("the awaited condition never held");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("after a 429 with Retry-After", () => {
  it("holds every request to that tenant until Retry-After has passed, not only the throttled call", async () => {
    const tenantId = crypto.randomUUID();
    const other = crypto.randomUUID();
    const exchange = m365.tenant(tenantId).exchange;
    // Warm the tokens so that nothing but the hold delays the second call.
    await exchange.getAcceptedDomains();
    await m365.tenant(other).exchange.getAcceptedDomains();
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 1 });
    const throttled = exchange.getTransportConfig();
    // Once the client has the 429 in hand (not merely once the simulator sent it).
    await until(() => events.some((e) => e.tenantId === tenantId && e.status === 429));
    const answeredAt = performance.timeOrigin + performance.now();
    const [, , elsewhere] = await Promise.all([
      throttled,
      exchange.getAcceptedDomains(),
      m365.tenant(other).exchange.getAcceptedDomains(),
    ]);
    expect(elsewhere.length).toBeGreaterThan(0);
    const calls = exchangeCalls(tenantId);
    const refused = calls.find((c) => c.status === 429)!;
    const after = calls.filter((c) => c.seq > refused.seq);
    expect(after.map((c) => c.operation).sort()).toEqual(["Get-AcceptedDomain", "Get-TransportConfig"]);
    for (const c of after) expect(c.at).toBeGreaterThanOrEqual(answeredAt + 1_000 - 50);
    // The other tenant was not held.
    const otherLast = exchangeCalls(other).at(-1)!;
    expect(otherLast.at).toBeLessThan(answeredAt + 900);
  });

  it("does not wait out in-task a hold longer than the longest in-task wait: the call is not sent", async () => {
    const tenantId = crypto.randomUUID();
    const exchange = m365.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "throttle", retryAfterSeconds: 30 });
    const first = await caught(exchange.getTransportConfig());
    expect(first).toBeInstanceOf(ThrottledError);
    const second = await caught(exchange.getAcceptedDomains());
    expect(second).toBeInstanceOf(ThrottledError);
    expect((second as ThrottledError).retryAfterMs).toBeGreaterThan(25_000);
    expect(exchangeCalls(tenantId).map((c) => c.operation)).toEqual(["Get-TransportConfig"]);
  });
});

describe("Exchange's concurrency limit lower than ours (3)", () => {
  it("narrows the tenant's requests in flight after a refusal: every call succeeds, only the first waves are refused", async () => {
    const tenantId = crypto.randomUUID();
    const exchange = m365.tenant(tenantId).exchange;
    await exchange.getAcceptedDomains();
    // Exchange takes one request at a time; each answer takes 100 ms, so three sent at once overlap.
    sim.configure({ maxConcurrentPerTenant: 1, latencyMs: 100 });
    try {
      const reads = Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0 ? exchange.getAcceptedDomains() : exchange.getTransportConfig(),
      );
      const settled = await Promise.allSettled(reads);
      expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
      const refused = exchangeCalls(tenantId).filter((c) => c.fault === "concurrency-limit");
      // Three at once: two refused (our limit becomes two, or one), then at most one more (one).
      // Without narrowing, each Retry-After (1 s) ends with three sent at once again: 2 refusals a wave.
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.length).toBeLessThanOrEqual(3);
    } finally {
      sim.configure({ maxConcurrentPerTenant: 0, latencyMs: 0 });
    }
  }, 30_000);
});
