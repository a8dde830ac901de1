/**
 * A tenant's whole life on the AWS form, over HTTP only: onboarded, offboarded, its record
 * expired by DynamoDB's TTL (the form's sweep, as of 31 days later), then registered again by
 * its partner and onboarded again.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsForm } from "./support/form.ts";

let form: AwsForm;
beforeAll(async () => {
  form = new AwsForm();
  await form.start();
});
afterAll(async () => {
  await form?.close();
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

  // Issue 22's first defect, on the form: the new record's run restarted at 1, so its execution
  // had the name of the closed one; Step Functions answered ExecutionAlreadyExists, taken for
  // "already started", and the tenant sat in `queued`. Names now carry the record's incarnation.
  it("registers the same tenant again and onboards it", async () => {
    const demo = await form.sim.demo(tenantId);
    const posted = await form.call("POST", "/v1/tenants", {
      key,
      body: { tenantId, customerName: `again-${tenantId.slice(0, 8)}`, region: "eu", ndrAddress: demo.admin },
    });
    expect(posted.status).toBe(202);
    expect((await form.consent(posted.body.consentUrl)).status).toBe(200);
    expect((await form.waitFor(tenantId, key, ["succeeded", "failed"], 30_000)).status).toBe("succeeded");
  });

  it("fails clearly while the app secret is the stack's placeholder, and recovers in the same containers once it is filled in", async () => {
    const secret = "M365CredentialsSecret49234178";
    const placeholder = { clientId: "REPLACE_WITH_APPLICATION_CLIENT_ID", clientSecret: "generated" };
    await form.control("put-secret", { secret, value: JSON.stringify(placeholder) });
    // Containers that already read the secret keep it (as in AWS): start fresh ones.
    await form.control("kill-environments", { function: "WorkflowWorkflowTaskFC450ECC" });
    const { tenantId: id } = await form.onboard(key);
    const failed = await form.waitFor(id, key, ["failed", "succeeded"], 120_000);
    expect(failed.status).toBe("failed");
    expect(failed.error?.code).toEqual(expect.any(String));
    // The operator fills it in (here with the simulator's app and its client secret).
    const app = JSON.parse(readFileSync(join(form.dataDir, "m365-simulator", "simulator.json"), "utf8"));
    await form.control("put-secret", {
      secret,
      value: JSON.stringify({ clientId: app.clientId, clientSecret: app.clientSecret }),
    });
    const cold = (await form.stats()).lambda["WorkflowWorkflowTaskFC450ECC"]!.coldStarts;
    expect((await form.call("POST", `/v1/tenants/${id}/retry`, { key })).status).toBe(202);
    expect((await form.waitFor(id, key, ["failed", "succeeded"], 120_000)).status).toBe("succeeded");
    // No new container was needed: the failed read did not stay cached.
    expect((await form.stats()).lambda["WorkflowWorkflowTaskFC450ECC"]!.coldStarts).toBe(cold);
  });
});
