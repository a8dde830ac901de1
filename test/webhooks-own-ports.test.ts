/**
 * A webhook on loopback (allowed with WEBHOOK_ALLOW_LOOPBACK=true, as in these tests) may target
 * no port the form itself serves: its API, the simulator, its database, and on the AWS form the
 * local AWS endpoint (whose test controls answer any POST). A partner could otherwise have the
 * service send signed requests to its own database or controls. Over HTTP, on both forms; in a
 * deployed stack loopback is never allowed at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownPortsFromEnv } from "../functions/webhooks/url-policy.ts";
import { loopbackPorts } from "../infra/local/own-ports.ts";
import { type FormHandle, startForm } from "./support/form.ts";

let f: FormHandle;

beforeAll(async () => {
  f = await startForm();
});
afterAll(async () => {
  await f?.close();
});

describe("webhooks and the form's own ports", () => {
  it("refuses each of the form's own ports, on every loopback spelling", async () => {
    const partner = await f.createPartner("Own ports");
    const ports = loopbackPorts(f.ownUrls);
    // The API, the simulator and the database at least (and the AWS form's endpoint).
    expect(ports.length).toBeGreaterThanOrEqual(f.form === "aws" ? 4 : 3);
    // Every port as 127.0.0.1; every loopback spelling on one of them (the check is per address).
    const targets = [
      ...ports.map((port) => ["127.0.0.1", port] as const),
      ...["localhost", "[::1]", "127.0.0.2"].map((host) => [host, ports.at(-1)!] as const),
    ];
    for (const [host, port] of targets) {
      const put = await f.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: `http://${host}:${port}/_form/stats` },
      });
      expect(put.status, `${host}:${port}`).toBe(400);
      expect(JSON.stringify(put.body)).toContain("this service itself");
    }
    // Another loopback port is allowed (WEBHOOK_ALLOW_LOOPBACK=true in tests).
    const other = await f.call("PUT", "/v1/webhook", {
      key: partner.apiKey,
      body: { url: "http://127.0.0.1:9/hooks" },
    });
    expect(other.status).toBe(200);
  });

  it("a delivery sent to the service's own API (the deployed form's public host) is refused", async () => {
    // As the dispatcher sends it: a signed JSON POST with no Authorization header.
    const body = JSON.stringify({ type: "tenant.onboarding.succeeded", data: {} });
    const headers = {
      "content-type": "application/json",
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": "v1,c2lnbmF0dXJl",
    };
    for (const path of ["/v1/partners", "/v1/tenants", "/v1/consent/callback", "/health", "/"]) {
      const res = await fetch(`${f.url}${path}`, { method: "POST", headers, body });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it("finds the ports of loopback URLs only", () => {
    expect(
      loopbackPorts([
        "http://127.0.0.1:4567",
        "https://localhost",
        "http://[::1]:8000/x",
        "https://login.example.test:4443",
        "http://10.0.0.1:5000",
        undefined,
        "not a url",
      ]),
    ).toEqual([4567, 443, 8000]);
  });

  it("reads the AWS form's own ports from WEBHOOK_OWN_PORTS (none when unset, junk ignored)", () => {
    expect(ownPortsFromEnv({ WEBHOOK_OWN_PORTS: "3000,41234" })).toEqual([3000, 41234]);
    expect(ownPortsFromEnv({ WEBHOOK_OWN_PORTS: "x,,-1,2.5,8080" })).toEqual([8080]);
    expect(ownPortsFromEnv({})).toEqual([]);
  });
});
