/** Small helpers shared by the tests of the Microsoft 365 adapter against the simulator. */
import type { SimulatorControl } from "../../infra/local/m365-simulator/index.ts";

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
