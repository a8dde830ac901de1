/**
 * A partner's fleet on the AWS form with the template's own limits (reserved concurrency, the
 * stage's and usage plan's throttles, the webhook queue's event source concurrency, the
 * workflow's own retry intervals): `tenants import` of every mode, each customer's consent
 * through its link, every tenant succeeded, nothing failed by our own stack's throttling, no
 * tenant or workflow twice. The 1,000-tenant run is the aws-form benchmark
 * (`node bench/run.ts aws-form --tenants 1000`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFleet } from "./support/fleet.ts";
import { AwsForm } from "./support/form.ts";

/** Every mode twice (eu, us, split, each with and without the outbound gateway). */
const TENANTS = 12;

let form: AwsForm;

beforeAll(async () => {
  form = new AwsForm({ LOG_LEVEL: "ERROR", WORKFLOW_RETRY_SCALE: "1" });
  await form.start();
});

afterAll(async () => {
  await form?.close();
});

describe(`a fleet of ${TENANTS} tenants imported on the AWS form`, () => {
  it("every tenant succeeds, none twice, and a second import sends nothing new", async () => {
    const run = await runFleet(form, {
      tenants: TENANTS,
      timeoutMs: 360_000,
      onProgress: (line) => console.info(`fleet: ${line}`),
    });
    const { importSummary: summary } = run;
    expect(run.importCode, run.importStderr).toBe(0);
    expect(summary).toMatchObject({
      total: TENANTS,
      sent: TENANTS,
      accepted: TENANTS,
      already: 0,
      failed: 0,
    });
    expect(run.consentFailures).toEqual([]);
    expect(run.notSucceeded).toEqual([]);
    expect(run.statuses).toEqual({ succeeded: TENANTS });
    expect(run.listed).toBe(TENANTS);
    expect(run.duplicateIds).toBe(0);
    expect(run.startedTwice).toEqual([]);
    expect(run.second).toEqual({ code: 0, accepted: 0, already: TENANTS, failed: 0 });
    const stats = await form.stats();
    expect(stats.refusals).toEqual([]);
    console.info(
      `fleet of ${TENANTS}: import ${run.importSeconds.toFixed(1)} s, consents ${run.consentSeconds.toFixed(1)} s (${run.consentThrottles} answered 429), every tenant ended after ${run.totalSeconds.toFixed(1)} s; Lambda throttles ${JSON.stringify(Object.fromEntries(Object.entries(stats.lambda).map(([k, v]) => [k, v.throttles])))}`,
    );
  }, 420_000);
});
