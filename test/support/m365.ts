/** Small helpers shared by the tests of the Microsoft 365 adapter against the simulator. */
import { afterAll, beforeAll } from "vitest";
import { createM365Gateway } from "../../functions/adapters/m365/index.ts";
import type { M365Gateway } from "../../functions/domain/m365.ts";
import {
  type Simulator,
  type SimulatorControl,
  startSimulator,
} from "../../infra/local/m365-simulator/index.ts";

/** The error a promise rejects with (a test fails if it resolves). */
export async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

/** The simulator's calls of one operation for a tenant, oldest first. */
export function callsOf(sim: Pick<SimulatorControl, "calls">, tenantId: string, operation: string) {
  return sim.calls(tenantId).filter((c) => c.operation === operation);
}

/**
 * A simulator and the real gateway to it for one suite: started before its tests, closed after.
 * Read `sim` and `gateway` inside the tests (they are set once the suite starts).
 */
export function simulatorWithGateway(): { sim: Simulator; gateway: M365Gateway } {
  const suite = {} as { sim: Simulator; gateway: M365Gateway };
  beforeAll(async () => {
    suite.sim = await startSimulator();
    suite.gateway = createM365Gateway({
      clientId: suite.sim.clientId,
      clientSecret: suite.sim.clientSecret,
      endpoints: suite.sim.endpoints,
      retry: { baseDelayMs: 5, maxDelayMs: 100, timeoutMs: 5_000 },
    });
  });
  afterAll(async () => {
    await suite.sim?.close();
  });
  return suite;
}
