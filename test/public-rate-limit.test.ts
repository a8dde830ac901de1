// Local form only: the local limiter of unkeyed traffic (AWS: the stage's method throttles and WAF, test/infra-waf.test.ts).
/**
 * Traffic without a valid key is limited per client address, apart from keyed traffic: a flood
 * of `Bearer garbage` from one address cannot keep a customer (another address) from the
 * consent callback, `/health` or the console, nor a partner from its API. Over HTTP against the
 * local runtime, from several loopback addresses (127.0.0.x).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

let rt: TestRuntime;

beforeAll(async () => {
  rt = await startTestRuntime({ env: { PARTNER_RATE_LIMIT_RPS: "0.2", PARTNER_RATE_LIMIT_BURST: "6" } });
});
afterAll(async () => {
  await rt?.close();
});

/** A GET from a given local address; the status and `Retry-After`. */
function getFrom(
  localAddress: string,
  path: string,
  key?: string,
): Promise<{ status: number; retryAfter?: string; body: string }> {
  const url = new URL(path, rt.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { localAddress, agent: false, headers: key ? { authorization: `Bearer ${key}` } : {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            ...(res.headers["retry-after"] && { retryAfter: res.headers["retry-after"] }),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("public routes are limited per client address", () => {
  it("a flood of bad keys from one address leaves another address's callback, health and console alone", async () => {
    const partner = await rt.createPartner("Keyed");
    const attacker = "127.0.0.2";
    const customer = "127.0.0.3";
    let refused: { status: number; retryAfter?: string; body: string } | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const answer = await getFrom(attacker, "/v1/tenants", "garbage");
      if (answer.status === 429) refused = answer;
      else expect(answer.status).toBe(401);
    }
    expect(refused?.retryAfter).toMatch(/^\d+$/);
    // The attacker's own public requests are limited too: it shares its address's bucket.
    expect((await getFrom(attacker, "/health")).status).toBe(429);
    expect((await getFrom(attacker, "/console")).status).toBe(429);
    // Another address is not affected.
    expect((await getFrom(customer, "/health")).status).toBe(200);
    const callback = await getFrom(customer, "/v1/consent/callback?admin_consent=True&state=x");
    expect(callback.status).toBe(400);
    expect(callback.body).toContain("not valid");
    expect((await getFrom(customer, "/console")).status).toBe(200);
    // Nor is keyed traffic, even from the attacker's address.
    expect((await getFrom(attacker, "/v1/tenants", partner.apiKey)).status).toBe(200);
    expect(JSON.parse(refused!.body).detail).toContain("without a valid key");
  });

  it("one address past its limit on the public routes gets 429 with Retry-After", async () => {
    const address = "127.0.0.4";
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await getFrom(address, "/health")).status);
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses).toContain(429);
    expect((await getFrom("127.0.0.5", "/health")).status).toBe(200);
  });
});
