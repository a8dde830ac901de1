/**
 * A JSON body's bytes reach the API as they came, on both forms: invalid UTF-8 is refused (400
 * MALFORMED_JSON) as the docs say, never read with U+FFFD in place of the bad bytes. (API
 * Gateway decodes a body whose media type is not one of the API's binary media types as UTF-8,
 * U+FFFD for each bad byte: the stack makes every type binary, so the function sees the bytes.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FormHandle, startForm } from "./support/form.ts";

let f: FormHandle;

beforeAll(async () => {
  f = await startForm();
});
afterAll(async () => {
  await f?.close();
});

const post = (body: Buffer, path = "/v1/partners") =>
  fetch(`${f.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${f.opsKey}`, "content-type": "application/json" },
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

  it("reads white space on an operation without a body as no body, and anything else as a field", async () => {
    const { partnerId } = await f.createPartner("UTF-8 keys");
    const keys = `/v1/partners/${partnerId}/keys`;
    expect((await post(Buffer.from("\n  "), keys)).status).toBe(201);
    const res = await post(Buffer.from("{}"), keys);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("This operation takes no body");
  });
});
