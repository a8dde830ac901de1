/**
 * The simulator on its own worker thread (`npm start` runs it so): the same synchronous control
 * as in process, its errors, `/_sim` over HTTPS, this thread trusting its CA, and its state kept
 * in its data folder across a restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { startSimulatorThread } from "../infra/local/m365-simulator/thread.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("simulator thread", () => {
  it("answers control calls synchronously, serves /_sim and Exchange to a client that trusts its CA, and keeps its state", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "sim-thread-"));
    dirs.push(dataDir);
    const tenantId = "0c6f6e8a-4d0e-4c3b-9a51-7c1b2f0d9e11";
    const sim = await startSimulatorThread({ dataDir });
    try {
      expect(sim.tenant(tenantId).consented).toBe(true);
      sim.setConsented(tenantId, false);
      expect(sim.tenant(tenantId).consented).toBe(false);
      sim.setConsented(tenantId, true);
      expect(() => sim.configure({ latencyMs: -1 })).toThrow(/latencyMs/);

      // This thread trusts the CA: the real gateway reaches the worker's HTTPS server.
      const gateway = createM365Gateway({
        clientId: sim.clientId,
        clientSecret: sim.clientSecret,
        endpoints: sim.endpoints,
      });
      const org = await gateway.tenant(tenantId).graph.getOrganization();
      expect(org.id).toBe(tenantId);
      expect(sim.calls(tenantId).map((c) => c.operation)).toContain("GET /organization");

      const res = await fetch(`${sim.url}/_sim/tenants/${tenantId}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { tenantId: string }).tenantId).toBe(tenantId);
      sim.setDehydrated(tenantId, true);
    } finally {
      await sim.close();
    }
    expect(() => sim.tenant(tenantId)).toThrow(/closed/);

    const again = await startSimulatorThread({ dataDir });
    try {
      expect(again.clientId).toBe(sim.clientId);
      expect(again.tenant(tenantId).dehydrated).toBe(true);
    } finally {
      await again.close();
    }
  });
});
