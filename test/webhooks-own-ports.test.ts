/**
 * A local webhook may target no port this process serves on loopback: the API's, the
 * simulator's, the embedded DynamoDB engine's (a partner could otherwise have the service send
 * signed requests to its own database). Over HTTP against the local runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopbackPorts } from "../infra/local/own-ports.ts";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

let rt: TestRuntime;

beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => {
  await rt?.close();
});

describe("local webhooks and the process's own ports", () => {
  it("refuses the embedded DynamoDB engine's port, on every loopback spelling", async () => {
    const partner = await rt.createPartner("Own ports");
    const port = new URL(rt.runtime.dynamoEndpoint).port;
    expect(port).toMatch(/^\d+$/);
    for (const host of ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"]) {
      const put = await rt.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: `http://${host}:${port}/` },
      });
      expect(put.status, host).toBe(400);
      expect(JSON.stringify(put.body)).toContain("this service itself");
    }
    // Another loopback port is allowed (WEBHOOK_ALLOW_LOOPBACK=true in tests).
    const other = await rt.call("PUT", "/v1/webhook", {
      key: partner.apiKey,
      body: { url: "http://127.0.0.1:9/hooks" },
    });
    expect(other.status).toBe(200);
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
});
