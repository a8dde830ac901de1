/**
 * Two environments work on one tenant at once, as two Lambda containers do: environment A runs
 * the workflows (an onboarding run: CheckAccess, Configure, Journal; then offboarding), and
 * environment B, with its own task handlers and Exchange client, runs a drift check that began
 * just before each. Same table (dynalite over HTTP), same simulator over HTTPS. With the tenants'
 * Exchange leases the simulator never sees more than the cap in flight for the tenant over the
 * whole run; without them it does.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DynamoTenantLeaseStore } from "../functions/adapters/dynamodb/tenant-lease-store.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { TenantLeases } from "../functions/adapters/m365/tenant-leases.ts";
import type { M365Gateway } from "../functions/domain/m365.ts";
import { createTaskHandlers } from "../functions/tasks/task-handlers.ts";
import { maxInFlight } from "../infra/local/m365-simulator/index.ts";
import type { FreshTable } from "./support/dynamodb.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

const CAP = 3;
let h: WorkflowHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const leasesOn = (table: FreshTable) =>
  new TenantLeases({
    store: new DynamoTenantLeaseStore({ client: table.docClient, tableName: table.tableName }),
  });

describe.each([
  { leased: true, expectation: `at most ${CAP}` },
  { leased: false, expectation: `more than ${CAP} (the defect the lease fixes)` },
])("with leases: $leased", ({ leased, expectation }) => {
  it(`a drift check in another environment beside an onboarding run and an offboarding: ${expectation} in flight`, async () => {
    h = await workflowHarness({
      gateway: (table) => ({ maxConcurrentPerTenant: CAP, ...(leased ? { lease: leasesOn(table) } : {}) }),
    });
    const harness = h;
    const tenantId = (await harness.onboard(harness.request({ region: "split", outboundGateway: true })))
      .tenantId;
    expect((await harness.store.getTenant(tenantId))!.tenant.status).toBe("succeeded");
    // Latency keeps each request in flight long enough for the two environments to overlap.
    harness.sim.configure({ latencyMs: 60 });
    harness.sim.resetCalls();

    // Environment B: its own gateway (Exchange client, in-process cap, lease owner) and tasks.
    const gatewayB: M365Gateway = createM365Gateway({
      clientId: harness.sim.clientId,
      clientSecret: harness.sim.clientSecret,
      endpoints: harness.sim.endpoints,
      retry: { baseDelayMs: 5, maxDelayMs: 2_000 },
      maxConcurrentPerTenant: CAP,
      ...(leased ? { lease: leasesOn(harness.table) } : {}),
    });
    let reachedExchange: () => void = () => {};
    const tasksB = createTaskHandlers({
      store: harness.store,
      // Called once the check has read the tenant (succeeded) and turns to Exchange.
      m365: async () => {
        reachedExchange();
        return gatewayB;
      },
    });
    /** B's drift check; `then` starts in A once the check has reached Exchange. */
    const beside = async (check: string, then: () => Promise<unknown>) => {
      const reached = new Promise<void>((resolve) => {
        reachedExchange = resolve;
      });
      const drift = tasksB.CheckDrift({ tenantId, run: 0, check });
      await reached;
      await Promise.all([drift, then()]);
    };

    await beside("c1", () => harness.rerun(tenantId));
    expect((await harness.store.getTenant(tenantId))!.tenant.status).toBe("succeeded");
    await beside("c2", () => harness.offboard(tenantId));
    expect((await harness.store.getTenant(tenantId))!.tenant.status).toBe("offboarded");

    const calls = harness.sim.calls(tenantId);
    // Both environments sent requests: B's drift reads and A's writes (offboarding removes rules).
    expect(calls.some((c) => c.write && c.operation === "Remove-JournalRule")).toBe(true);
    const peak = maxInFlight(calls).max;
    console.log(`with leases: ${leased}: at most ${peak} Exchange requests in flight for the tenant`);
    if (leased) expect(peak).toBeLessThanOrEqual(CAP);
    else expect(peak).toBeGreaterThan(CAP);
  });
});
