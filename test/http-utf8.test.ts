/**
 * The local front door passes a body's bytes as they came: invalid UTF-8 is refused (400
 * MALFORMED_JSON) as in AWS and the docs, not read with U+FFFD in place of the bad bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

let rt: TestRuntime;

beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const post = (body: Buffer) =>
  fetch(`${rt.url}/v1/partners`, {
    method: "POST",
    headers: { authorization: `Bearer ${rt.opsKey}`, "content-type": "application/json" },
    body: new Uint8Array(body),
  });

describe("request bodies over HTTP", () => {
  it.each([
    ["a lone continuation byte", Buffer.from([0x80])],
    ["an invalid byte", Buffer.from([0xff])],
    ["a truncated sequence", Buffer.from([0xe2, 0x82])],
    ["an overlong encoding", Buffer.from([0xc0, 0xaf])],
    ["an encoded surrogate", Buffer.from([0xed, 0xa0, 0x80])],
  ])("refuses invalid UTF-8 (%s) with 400 MALFORMED_JSON", async (_what, bad) => {
    const body = Buffer.concat([Buffer.from('{"name":"Contoso'), bad, Buffer.from('"}')]);
    const res = await post(body);
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("MALFORMED_JSON");
  });

  it("keeps valid UTF-8 of every script", async () => {
    const res = await post(Buffer.from(JSON.stringify({ name: "Société 株式会社 🚀" })));
    expect(res.status).toBe(201);
    expect((await res.json()).name).toBe("Société 株式会社 🚀");
  });
});
