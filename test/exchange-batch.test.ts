/**
 * Member adds in batches: ten Add-DistributionGroupMember cmdlets per `$batch` request, as the
 * ExchangeOnlineManagement module and CIPP send them; and pacing on `Rate-Limit-*` headers.
 * Against the HTTPS simulator, which serves `$batch` by running each cmdlet as InvokeCommand would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { paceOnRateLimit } from "../functions/adapters/m365/rate-limit.ts";
import { TenantHolds } from "../functions/adapters/m365/tenant-holds.ts";
import { startSimulatorThread } from "../infra/local/m365-simulator/thread.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("member adds", () => {
  it("go ten to a $batch request: 25 missing members of an adopted group are 3 requests", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    const members = await h.sim.addMailboxes(tenantId, {
      prefix: "b",
      count: 30,
      group: { name: "Journal EU", address: `journal-eu@${demo.domain}`, members: 5 },
    });
    const req = h.request({
      tenantId,
      region: "split",
      groups: {
        eu: { name: "Journal EU", primarySmtpAddress: `journal-eu@${demo.domain}`, members },
        us: { name: "Journal US", primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
      },
    });
    const done = await h.onboard(req);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe("succeeded");
    const calls = h.sim.calls(tenantId);
    expect(calls.filter((c) => c.operation === "$batch").map((c) => c.status)).toEqual([200, 200, 200]);
    const adds = calls.filter((c) => c.operation === "Add-DistributionGroupMember");
    expect(adds).toHaveLength(25);
    expect(adds.every((c) => c.status === 200)).toBe(true);
    expect(h.sim.tenant(tenantId).groups.find((g) => g.name === "Journal EU")?.members).toHaveLength(30);
    expect(await h.store.listOwnedMembers(tenantId, 100)).toHaveLength(25);

    // Offboarding removes exactly the memberships the batches added.
    expect((await h.offboard(tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(tenantId).groups.find((g) => g.name === "Journal EU")?.members).toHaveLength(5);
  });

  it("a member that is already there counts as someone else's, inside a batch too", async () => {
    const tenantId = crypto.randomUUID();
    const demo = h.sim.demo(tenantId);
    const m365 = h.m365.tenant(tenantId).exchange;
    const results = await m365.addDistributionGroupMembers(demo.existingGroup.name, [
      demo.alice,
      demo.carol.address,
    ]);
    expect(results).toEqual([
      { member: demo.alice, added: true },
      { member: demo.carol.address, added: false },
    ]);
    expect(h.sim.calls(tenantId).filter((c) => c.operation === "$batch")).toHaveLength(1);
  });

  it("add a member to an existing group that has members on the simulator's own thread (as npm start runs it)", async () => {
    // The worker thread that serves $batch runs each cmdlet through its own HTTPS InvokeCommand:
    // that call must trust the simulator's CA there too, not only in the thread that started it.
    const sim = await startSimulatorThread();
    try {
      const tenantId = crypto.randomUUID();
      const demo = sim.demo(tenantId);
      const gateway = createM365Gateway({
        clientId: sim.clientId,
        clientSecret: sim.clientSecret,
        endpoints: sim.endpoints,
        retry: { baseDelayMs: 5, maxDelayMs: 50 },
      });
      const results = await gateway
        .tenant(tenantId)
        .exchange.addDistributionGroupMembers(demo.existingGroup.name, [demo.alice]);
      expect(results).toEqual([{ member: demo.alice, added: true }]);
      const calls = sim.calls(tenantId);
      expect(calls.filter((c) => c.operation === "$batch").map((c) => c.status)).toEqual([200]);
      expect(calls.filter((c) => c.operation === "Add-DistributionGroupMember").map((c) => c.status)).toEqual(
        [200],
      );
      const group = sim.tenant(tenantId).groups.find((g) => g.name === demo.existingGroup.name);
      expect(group?.members).toEqual(
        expect.arrayContaining([...demo.existingGroup.members, demo.alice].map((m) => m.toLowerCase())),
      );
    } finally {
      await sim.close();
    }
  });
});

describe("Rate-Limit-* headers", () => {
  it("hold the tenant until Rate-Limit-Reset once Rate-Limit-Remaining is down to what is in flight", () => {
    const now = Date.parse("2026-12-07T10:00:00Z");
    const holds = new TenantHolds({ now: () => now });
    const at = (remaining: string, reset = "2026-12-07T10:00:05Z") =>
      new Headers({ "rate-limit-remaining": remaining, "rate-limit-reset": reset });
    paceOnRateLimit(holds, "t", at("3"), 0, now);
    expect(holds.remaining("t")).toBe(0);
    paceOnRateLimit(holds, "t", at("0"), 0, now);
    expect(holds.remaining("t")).toBe(5_000);
    // With two more requests in flight, it holds while two remain.
    paceOnRateLimit(holds, "v", at("2"), 2, now);
    expect(holds.remaining("v")).toBe(5_000);
    paceOnRateLimit(holds, "u", at("0", "2"), 0, now);
    expect(holds.remaining("u")).toBe(2_000);
  });

  it("pace the tenant against the simulator: no request beyond the limit, though many are sent at once", async () => {
    const tenantId = crypto.randomUUID();
    h.sim.configure({ rateLimit: { limit: 4, windowMs: 1_000 } });
    try {
      const exchange = h.m365.tenant(tenantId).exchange;
      const reads = await Promise.all(Array.from({ length: 10 }, () => exchange.getAcceptedDomains()));
      expect(reads.every((r) => r.length > 0)).toBe(true);
    } finally {
      h.sim.configure({ rateLimit: null });
    }
    const calls = h.sim.calls(tenantId).filter((c) => c.service === "exchange");
    expect(calls.filter((c) => c.status === 429)).toEqual([]);
    expect(calls).toHaveLength(10);
  });
});
