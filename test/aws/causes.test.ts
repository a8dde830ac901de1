/**
 * Lambda's error causes inside real workflow runs on the AWS form, each ending as the
 * definition's Retry/Catch and the error catalogue say: a task that runs past its function's
 * Timeout (`Sandbox.Timedout`: retried once the dead environment's Exchange lease expired), a task whose invocation
 * dies without an error type (`Lambda.Unknown`: retried by no retrier, caught as STEP_TIMEOUT);
 * and DescribeExecution's `ExecutionDoesNotExist` through sfn-engine.ts (a tenant whose
 * execution Step Functions no longer has is stranded: a retry starts it again).
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm, type Json } from "./support/form.ts";

const TASK = "WorkflowWorkflowTaskFC450ECC";
let form: AwsForm;
let key = "";

beforeAll(async () => {
  // Retries at their real intervals: a scaled form runs each retrier at a fixed, scaled interval
  // (no backoff), which would spend TENANT_BUSY_RETRY (22.8 min unscaled) long before a dead
  // environment's Exchange lease (60 s, never scaled) expires.
  form = new AwsForm({ WORKFLOW_RETRY_SCALE: "1" });
  await form.start();
  key = (await form.createPartner("Causes MSP")).apiKey;
});
afterAll(async () => {
  await form?.close();
});

/** Registers a tenant with the outbound gateway (its connector is validated) and has its admin consent. */
async function register(tenantId: string): Promise<void> {
  const demo = await form.sim.demo(tenantId);
  const posted = await form.call("POST", "/v1/tenants", {
    key,
    body: {
      tenantId,
      customerName: `causes-${tenantId.slice(0, 8)}`,
      region: "eu",
      outboundGateway: true,
      ndrAddress: demo.admin,
    },
  });
  expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
}

async function untilStepRuns(tenantId: string, step: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const t: Json = await form.tenant(tenantId, key);
    if (t.steps?.some((s: Json) => s.name === step && s.status === "running")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`step ${step} never ran`);
}

const validations = async (tenantId: string) =>
  (await form.sim.calls(tenantId)).filter((c) => c.operation === "Validate-OutboundConnector");

describe("Lambda's error causes in a workflow on the AWS form", () => {
  // Found here: the timed-out environment dies holding the tenant's Exchange lease. The retry
  // used to wait for it past its own timeout and, caught, ended INTERNAL_ERROR; now a wait ends
  // before the invocation does (TenantBusyError, retried by TENANT_BUSY_RETRY) until the dead
  // holder's lease expires (60 s), and the step runs again.
  // 300 s, not the run's 180 s: the case waits out a 60 s lease and took 66 s and 88 s on this
  // machine under load (its own wait for the tenant allows 240 s, which 180 s would cut short).
  it("Sandbox.Timedout: a task past its function's Timeout is retried; the retry waits out the dead environment's lease, then finishes", async () => {
    // The operator shortens the task function's Timeout; Exchange answers one call slowly.
    expect((await form.control("set-function-timeout", { function: TASK, seconds: "3" })).updated).toBe(true);
    try {
      const once = randomUUID();
      await form.sim.failNext(once, "Validate-OutboundConnector", { kind: "delay", ms: 8_000 }, 1);
      await register(once);
      const recovered = await form.waitFor(once, key, ["succeeded", "failed"], 240_000);
      expect(recovered.status, JSON.stringify(recovered.error)).toBe("succeeded");
      const calls = await validations(once);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      // The second validation went out only once the first holder's lease (60 s) had expired.
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(55_000);
    } finally {
      await form.control("set-function-timeout", { function: TASK, seconds: "900" });
    }
  }, 300_000);

  it("Lambda.Unknown: a task whose environment dies without an error type is retried by no retrier and caught as STEP_TIMEOUT", async () => {
    const tenantId = randomUUID();
    // 10 s: the step must still be at Exchange when the poll has seen it run and the environment is
    // struck, which takes seconds on a loaded machine (4 s left little room).
    await form.sim.failNext(tenantId, "Validate-OutboundConnector", { kind: "delay", ms: 10_000 }, 1);
    await register(tenantId);
    await untilStepRuns(tenantId, "validate-connector");
    // The task's environment dies mid-invocation and answers with no error type.
    expect((await form.control("fail-without-error-type", { function: TASK, times: "1" })).set).toBe(true);
    expect((await form.control("kill-environments", { function: TASK })).killed).toBeGreaterThan(0);
    const failed = await form.waitFor(tenantId, key, ["succeeded", "failed"], 120_000);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "STEP_TIMEOUT" });
    // Caught at once: one attempt of the step (no retry of Lambda.Unknown).
    expect(failed.steps.find((s: Json) => s.name === "validate-connector")?.attempts).toBe(1);
  });

  // 210 s, not the run's 180 s: it took 62-65 s on this machine under load (a form restart and the
  // stranded run's retry), a third of 180 s is too little headroom for a loaded CI machine.
  it("ExecutionDoesNotExist: a running tenant whose execution Step Functions no longer has is stranded, and a retry runs it again", async () => {
    const tenantId = randomUUID();
    // 10 s: the step must still be at Exchange when the poll has seen it run and the environment is
    // struck, which takes seconds on a loaded machine (4 s left little room).
    await form.sim.failNext(tenantId, "Validate-OutboundConnector", { kind: "delay", ms: 10_000 }, 1);
    await register(tenantId);
    await untilStepRuns(tenantId, "validate-connector");
    // The form stops at once; its record of the execution is gone when it starts again (what
    // Step Functions answers for a run it never started, or no longer keeps).
    await form.kill();
    const file = join(form.dataDir, "aws", "stepfunctions", "executions.jsonl");
    const lines = readFileSync(file, "utf8").split("\n");
    expect(lines.some((l) => l.includes(tenantId))).toBe(true);
    writeFileSync(file, lines.filter((l) => !l.includes(tenantId)).join("\n"));
    await form.start();
    expect((await form.tenant(tenantId, key)).status).toBe("running");
    // DescribeExecution answers ExecutionDoesNotExist (twice, a few seconds apart): stranded.
    const retried = await form.call("POST", `/v1/tenants/${tenantId}/retry`, { key });
    expect(retried.status, JSON.stringify(retried.body)).toBe(202);
    const done = await form.waitFor(tenantId, key, ["succeeded", "failed"], 120_000);
    expect(done.status).toBe("succeeded");
    expect((await form.stats()).refusals).toEqual([]);
  }, 210_000);
});
