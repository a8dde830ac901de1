/**
 * Chaos and crashes on the AWS form, over HTTP only: a function's environment killed in the
 * middle of an invocation (the task answers Runtime.ExitError; the tenant ends failed with an
 * error, and a retry finishes it), and the whole process group SIGKILLed mid-onboarding, then
 * started again on the same DATA_DIR: partners, keys and tenants kept, the cut-off execution
 * ended ABORTED and reported by the watchdog, the tenant retried to `succeeded`.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm, type Json } from "./support/form.ts";

const TASK = "WorkflowWorkflowTaskFC450ECC";
let form: AwsForm;

beforeAll(async () => {
  // Validating the connector takes 10 s in Exchange here: long enough to strike mid-invocation
  // after the poll has seen the step run, which takes seconds on a loaded machine (4 s was tight).
  form = new AwsForm({
    M365_SIMULATOR_CONFIG: JSON.stringify({ slowCmdlets: { "Validate-OutboundConnector": 10_000 } }),
  });
  await form.start();
});
afterAll(async () => {
  await form?.close();
});

async function newTenant(key: string): Promise<string> {
  const tenantId = randomUUID();
  const demo = await form.sim.demo(tenantId);
  const posted = await form.call("POST", "/v1/tenants", {
    key,
    body: {
      tenantId,
      customerName: `fabrikam-${tenantId.slice(0, 8)}`,
      region: "eu",
      outboundGateway: true,
      ndrAddress: demo.admin,
    },
  });
  expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
  return tenantId;
}

async function untilStepRuns(tenantId: string, key: string, step: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const t = (await form.call("GET", `/v1/tenants/${tenantId}`, { key })).body;
    if (t.steps?.some((s: Json) => s.name === step && s.status === "running")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${step} never ran`);
}

describe("chaos and crashes on the AWS form", () => {
  // 240 s, not the run's 180 s: the retry waits out the killed environment's 60 s Exchange lease;
  // the case took 68-75 s on this machine under load.
  it("an environment killed mid-invocation: the tenant fails with an error, and a retry finishes it", async () => {
    const partner = await form.createPartner("Chaos MSP");
    const tenantId = await newTenant(partner.apiKey);
    await untilStepRuns(tenantId, partner.apiKey, "validate-connector");
    await new Promise((r) => setTimeout(r, 500)); // inside the 10 s cmdlet
    const killed = await (
      await fetch(`${form.info.cloudUrl}/_form/kill-environments?function=${TASK}`, { method: "POST" })
    ).json();
    expect(killed.killed).toBeGreaterThan(0);
    const failed = await form.waitFor(tenantId, partner.apiKey, ["failed", "succeeded"], 120_000);
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toEqual(expect.any(String));
    const retried = await form.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey });
    expect(retried.status).toBe(202);
    const done = await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 120_000);
    expect(done.status).toBe("succeeded");
  }, 240_000);

  // 210 s, not the run's 180 s: a form restart and a retry that waits out the dead holder's 60 s
  // lease; the case took 65 s on this machine under load.
  it("the whole process group SIGKILLed mid-onboarding: state kept, the tenant failed at the next start, a retry finishes it", async () => {
    const partner = await form.createPartner("Crash MSP");
    const tenantId = await newTenant(partner.apiKey);
    await untilStepRuns(tenantId, partner.apiKey, "validate-connector");
    await form.kill();
    await form.start();
    // The partner's key still opens the API; the tenant is there.
    const failed = await form.waitFor(tenantId, partner.apiKey, ["failed", "succeeded"], 120_000);
    expect(failed.status).toBe("failed");
    const retried = await form.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey });
    expect(retried.status).toBe(202);
    const done = await form.waitFor(tenantId, partner.apiKey, ["succeeded", "failed"], 120_000);
    expect(done.status).toBe("succeeded");
    expect((await form.stats()).refusals).toEqual([]);
  }, 210_000);
});
