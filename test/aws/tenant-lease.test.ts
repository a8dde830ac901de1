/**
 * The per-tenant cap on Exchange requests in flight on the AWS form, where each task invocation
 * may run in its own Lambda environment: a drift check (Express) and an offboarding (Standard)
 * started on one tenant while the check is still at Exchange run in two task-function
 * environments side by side; the offboarding sends nothing until the check has let the tenant's
 * Exchange lease go (taken on the table under the task function's own IAM policy), and the
 * simulator's log shows at most 3 of the tenant's requests in flight over the whole run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoOnboardingRequest, maxInFlight, type SimCall } from "../../infra/local/m365-simulator/index.ts";
import { AwsForm } from "./support/form.ts";

const TASK_FUNCTION = "WorkflowWorkflowTaskFC450ECC";
let form: AwsForm;
beforeAll(async () => {
  form = new AwsForm();
  await form.start();
});
afterAll(async () => {
  await form?.close();
});

describe("Exchange requests in flight per tenant on the AWS form", () => {
  it("stay at most 3 while a drift check and an offboarding run in two containers at once", async () => {
    const { apiKey: key } = await form.createPartner("Lease MSP");
    const tenantId = crypto.randomUUID();
    const request = demoOnboardingRequest(tenantId, { region: "split", outboundGateway: true });
    const posted = await form.call("POST", "/v1/tenants", { key, body: request });
    expect(posted.status).toBe(202);
    expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
    expect((await form.waitFor(tenantId, key, ["succeeded", "failed"], 120_000)).status).toBe("succeeded");

    // The drift check's journal-rule reads take 6 s, so it is still at Exchange when the
    // offboarding starts in a second container; fresh containers count those used at once.
    await form.sim.configure({ slowCmdlets: { "Get-JournalRule": 6_000 } });
    await form.control("kill-environments", { function: TASK_FUNCTION });
    const refusalsBefore = (await form.stats()).refusals.length;
    const seen = (await form.sim.calls(tenantId)).length;
    expect((await form.call("POST", `/v1/tenants/${tenantId}/drift-checks`, { key })).status).toBe(202);
    let slow: SimCall | undefined;
    for (let i = 0; i < 600 && !slow; i++) {
      await new Promise((r) => setTimeout(r, 50));
      slow = (await form.sim.calls(tenantId)).slice(seen).find((c) => c.operation === "Get-JournalRule");
    }
    expect(slow).toBeDefined();
    expect((await form.call("DELETE", `/v1/tenants/${tenantId}`, { key })).status).toBe(202);
    expect((await form.waitFor(tenantId, key, ["offboarded", "offboarding_failed"], 150_000)).status).toBe(
      "offboarded",
    );
    await form.sim.configure({ slowCmdlets: {} });

    const stats = await form.stats();
    // The check and the offboarding met: the task function needed more than one container.
    expect(stats.lambda[TASK_FUNCTION]!.environments).toBeGreaterThan(1);
    expect(stats.refusals.slice(refusalsBefore)).toEqual([]);
    const calls = await form.sim.calls(tenantId);
    expect(calls.some((c) => c.operation === "Remove-JournalRule" && c.status < 400)).toBe(true);
    // While the check held the tenant, the offboarding sent nothing: it waited for the lease.
    const during = calls.filter(
      (c) => c.service === "exchange" && c.at > slow!.at + 1_500 && c.at < slow!.at + 5_900,
    );
    expect(during).toEqual([]);
    const peak = maxInFlight(calls).max;
    console.log(`AWS form: at most ${peak} Exchange requests in flight for the tenant`);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
  });
});
