/**
 * A tenant's whole life on the AWS form, over HTTP only: onboarded, offboarded, its record
 * expired by DynamoDB's TTL (the form's sweep, as of 31 days later), then registered again by
 * its partner and onboarded again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm } from "./support/form.ts";

let form: AwsForm;
beforeAll(async () => {
  form = new AwsForm();
  await form.start();
});
afterAll(async () => {
  await form?.stop();
});

describe("a tenant's life on the AWS form", () => {
  let tenantId = "";
  let key = "";

  it("onboards, offboards, and the offboarded record expires by its TTL", async () => {
    key = (await form.createPartner("Life MSP")).apiKey;
    ({ tenantId } = await form.onboard(key));
    expect((await form.waitFor(tenantId, key, ["succeeded", "failed"], 120_000)).status).toBe("succeeded");
    expect((await form.call("DELETE", `/v1/tenants/${tenantId}`, { key })).status).toBe(202);
    expect((await form.waitFor(tenantId, key, ["offboarded", "offboarding_failed"], 120_000)).status).toBe(
      "offboarded",
    );
    const in31Days = new Date(Date.now() + 31 * 86_400_000).toISOString();
    const { deleted } = await form.control("expire-items", { at: in31Days });
    expect(deleted).toBeGreaterThan(0);
    expect((await form.call("GET", `/v1/tenants/${tenantId}`, { key })).status).toBe(404);
  });

  // Issue 22's first defect, shown on the form: the new record's run restarts at 1, so its
  // execution has the name of the closed one; Step Functions answers ExecutionAlreadyExists,
  // which is taken for "already started", and the tenant sits in `queued`. Fixed in another
  // branch; then this passes, and `.fails` must go.
  it.fails("registers the same tenant again and onboards it", async () => {
    const demo = await form.sim.demo(tenantId);
    const posted = await form.call("POST", "/v1/tenants", {
      key,
      body: { tenantId, customerName: `again-${tenantId.slice(0, 8)}`, region: "eu", ndrAddress: demo.admin },
    });
    expect(posted.status).toBe(202);
    expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
    expect((await form.waitFor(tenantId, key, ["succeeded", "failed"], 30_000)).status).toBe("succeeded");
  });
});
