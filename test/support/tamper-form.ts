/**
 * One form of the service (test/support/form.ts) with drift checks on request only and one
 * partner, for the suites that change a tenant behind the service's back and check what it does:
 * the partner's calls, its onboarding to `succeeded`, the simulator's successful writes of a
 * cmdlet, and a drift check's result.
 */
import { afterAll, beforeAll, expect } from "vitest";
import type { RemoteSimulatorControl } from "../../infra/local/m365-simulator/index.ts";
import { type FormHandle, type Json, startForm } from "./form.ts";

export interface TamperForm {
  rt: FormHandle;
  sim: RemoteSimulatorControl;
  /** Calls the API as the partner. */
  as(path: string, method?: string, body?: unknown): ReturnType<FormHandle["call"]>;
  /** Registers the tenant as the partner, consents, and waits until it succeeded. */
  onboard(body: Record<string, unknown> & { tenantId: string }): Promise<void>;
  /** The tenant's successful calls of `cmdlet` that wrote, oldest first. */
  writes(tenantId: string, cmdlet: string): ReturnType<RemoteSimulatorControl["calls"]>;
  /** Runs a drift check of the tenant and answers its result. */
  check(tenantId: string): Promise<Json>;
}

/** Starts the form before the suite's tests and closes it after; read `rt` and `sim` in the tests. */
export function tamperForm(partnerName: string): TamperForm {
  let partner: { partnerId: string; apiKey: string };
  const suite = {} as TamperForm;
  beforeAll(async () => {
    suite.rt = await startForm({ env: { DRIFT_CHECK_INTERVAL: "0" } });
    suite.sim = suite.rt.sim;
    partner = await suite.rt.createPartner(partnerName);
  });
  afterAll(async () => {
    await suite.rt?.close();
  });
  suite.as = (path, method = "GET", body) =>
    suite.rt.call(method, path, { key: partner.apiKey, ...(body !== undefined && { body }) });
  suite.onboard = async (body) => {
    const answer = await suite.as("/v1/tenants", "POST", body);
    expect(answer.status).toBe(202);
    if (answer.body.status === "awaiting_consent")
      expect((await suite.rt.consent(answer.body.consentUrl)).status).toBe(200);
    expect((await suite.rt.waitFor(body.tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
  };
  suite.writes = async (tenantId, cmdlet) =>
    (await suite.sim.calls(tenantId)).filter((c) => c.write && c.status < 400 && c.operation === cmdlet);
  suite.check = async (tenantId) => {
    expect((await suite.as(`/v1/tenants/${tenantId}/drift-checks`, "POST")).status).toBe(202);
    await suite.rt.idle(tenantId);
    return (await suite.as(`/v1/tenants/${tenantId}/drift`)).body;
  };
  return suite;
}
