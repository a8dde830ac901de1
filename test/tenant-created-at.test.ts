/**
 * A tenant's `createdAt` is when its partner asked (the POST), not when its customer's admin
 * consented later: the console's "created per hour" counts requests, and the list stays in the
 * order the partner sent them.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, startForm } from "./support/form.ts";

let rt: FormHandle;

beforeAll(async () => {
  rt = await startForm();
});

afterAll(async () => {
  await rt?.close();
});

it("createdAt stays the time of the POST after consent and onboarding", async () => {
  const partner = await rt.createPartner("Patient MSP");
  const first = randomUUID();
  const second = randomUUID();
  const post = async (tenantId: string) => {
    const { status, body } = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: {
        tenantId,
        customerName: `patient-${tenantId.slice(0, 8)}`,
        region: "us",
        ndrAddress: demoMailboxes(tenantId).admin,
      },
    });
    expect(status).toBe(202);
    return body;
  };
  const asked = await post(first);
  await post(second);
  // The customer of the first tenant consents a while later.
  await new Promise((r) => setTimeout(r, 1100));
  expect((await rt.consent(asked.consentUrl)).status).toBe(200);
  const done = await rt.waitFor(first, ["succeeded"]);
  expect(done.createdAt).toBe(asked.createdAt);
  expect(Date.parse(done.updatedAt) - Date.parse(done.createdAt)).toBeGreaterThanOrEqual(1000);
  // Newest first, by when the partner asked: the second POST stays above the first.
  const { body } = await rt.call("GET", "/v1/tenants", { key: partner.apiKey });
  expect(body.items.map((t: { tenantId: string }) => t.tenantId)).toEqual([second, first]);
});
