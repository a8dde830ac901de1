/**
 * One address flooding the public consent callback does not keep another customer's admin from
 * consenting, on either form (test/support/form.ts). The local form limits the callback per
 * client address; the AWS form's stage throttle on the callback is one bucket for every browser,
 * sized so that everything one address may send within AWS WAF's per-address limit cannot empty
 * it (WAF itself is not emulated by the AWS form: infra-api-gateway.test.ts checks its numbers
 * against the throttle's). The flood is that allowance, 300 requests, sent as fast as the form
 * answers; right after it another address's admin consents.
 */
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { consentAsAdmin } from "./support/browser.ts";
import { type FormHandle, startForm } from "./support/form.ts";

/** What one address may send to the public routes within WAF's window (PublicRoutesPerAddress). */
const ONE_ADDRESS_ALLOWANCE = 300;
const FLOODER = "127.0.0.2";

let rt: FormHandle;

beforeAll(async () => {
  rt = await startForm();
});
afterAll(async () => {
  await rt?.close();
});

/** A GET from a given loopback address; its status. */
function getFrom(localAddress: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, rt.url), { localAddress, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** `count` callbacks from `address`, `parallel` at a time; the statuses. */
async function flood(address: string, count: number, parallel: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        statuses.push(
          await getFrom(address, `/v1/consent/callback?admin_consent=True&tenant=${randomUUID()}&state=x`),
        );
      }
    }),
  );
  return statuses;
}

describe("the consent callback under a flood from one address", () => {
  it("another address's admin consents right after one address sent its whole allowance", async () => {
    const partner = await rt.createPartner("flooded");
    const tenantId = randomUUID();
    const posted = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: {
        tenantId,
        customerName: `c-${tenantId.slice(0, 8)}`,
        region: "us",
        outboundGateway: false,
        ndrAddress: demoMailboxes(tenantId).admin,
      },
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(202);

    const statuses = await flood(FLOODER, ONE_ADDRESS_ALLOWANCE, 10);
    // Every request was answered (a refused state is 400; the local form limits the address: 429).
    expect(
      statuses.every((s) => s === 400 || s === 429),
      JSON.stringify(statuses),
    ).toBe(true);
    if (rt.form === "aws") expect(statuses.filter((s) => s === 429)).toEqual([]);

    // The customer's admin, from another address (127.0.0.1), right away: never a 429.
    const page = await consentAsAdmin(posted.body.consentUrl);
    expect(page.status, page.html).toBe(200);
    const done = await rt.waitFor(tenantId, ["succeeded", "failed"]);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
  });
});
